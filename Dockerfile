# The runner builds this with no --build-arg, so the default base is what users get: pinned by its digest
# (Dependabot updates tag and digest). Local builds without Docker Hub:
# --build-arg BASE_IMAGE=localhost/debian-bookworm-python:local
# Two stages: the builder installs and trims everything under /opt/kalibra-action; the image users run is the
# base plus that one folder, without pip, setuptools or wheel. No path below names an architecture, so the
# same stages build for linux/amd64 and linux/arm64.
ARG BASE_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0

FROM ${BASE_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# Everything installed is hash-locked (`make lock`): the runtime dependencies (requirements.txt) go straight
# into the app folder, wheels only (an sdist would be built with whatever build tools are newest); the build
# backend (requirements-build.txt) goes into the builder's Python, so that our wheel is built with it and
# --no-build-isolation, offline, instead of with an unpinned setuptools fetched by pip's build isolation.
# The app folder is entrypoint.py's own folder, which Python puts first on sys.path.
COPY requirements.txt requirements-build.txt ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements-build.txt \
    && pip install --target /opt/kalibra-action --only-binary=:all: --no-compile --require-hashes --no-deps -r requirements.txt \
    && rm -rf /opt/kalibra-action/bin

COPY pyproject.toml README.md ./
COPY kalibra_action ./kalibra_action
RUN pip install --no-index --no-deps --no-build-isolation --no-compile --target /opt/kalibra-action .
COPY entrypoint.py /opt/kalibra-action/

# Trim what no run imports: console scripts, test suites, C/Cython sources and stubs, numpy.distutils, and
# zstandard's CFFI backend (it needs the cffi package, which is not installed; the C backend is used).
# Then compile every module once, as unchecked-hash .pyc (valid whatever the files' mtimes after COPY, and
# never re-checked against the source; without them every run compiles again: importing the action took
# 1.27 s of CPU instead of 0.27 s here), and make every file readable by any uid with none writable but by
# root (`docker run --user` works, no run can alter the code).
WORKDIR /opt/kalibra-action
RUN rm -rf bin numpy/distutils zstandard/_cffi.* zstandard/backend_cffi.py \
    && find . -depth -type d -name tests -exec rm -rf {} + \
    && find . -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.cpp' \
        -o -name '*.h' -o -name '*.f' \) -delete \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash . \
    && chmod -R u+rwX,go+rX,go-w .

FROM ${BASE_IMAGE}

# The base's installers are removed: the action installs nothing at run time, and a pip in the image is code
# any step could use to change it. ensurepip's bundled wheels go too (they would bring pip back).
RUN for site in $(python -c 'import site; print(" ".join(site.getsitepackages()))'); do \
        rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* "$site"/wheel "$site"/wheel-* \
            "$site"/pkg_resources "$site"/_distutils_hack "$site"/distutils-precedence.pth; \
    done \
    && rm -rf "$(python -c 'import ensurepip, os; print(os.path.dirname(ensurepip.__file__))')" \
        /usr/share/python-wheels \
    && rm -f /usr/local/bin/pip /usr/local/bin/pip3 /usr/local/bin/pip3.* /usr/local/bin/wheel \
        /usr/bin/pip /usr/bin/pip3 /usr/bin/pip3.* \
    && for module in pip setuptools wheel ensurepip; do \
        if python -c "import $module" 2>/dev/null; then echo "$module is still importable" >&2; exit 1; fi; \
    done

COPY --from=builder /opt/kalibra-action /opt/kalibra-action
# The entry point names the interpreter by an absolute path: a job-level `env: PATH: …` reaches the container
# too, and a bare `python` would be looked up there (a pull request's `bin/python`). Base images keep Python
# in different places (/usr/local/bin in the official one, /usr/bin in Debian's), so a fixed link to it.
RUN ln -s "$(command -v python3)" /usr/local/bin/kalibra-python

# The runner mounts the workspace at /github/workspace, sets the working directory and runs as root (USER
# is not supported there); the files are readable by any other uid too.
# The workflow's `env:` reaches the container, and the runner's home (/github/home) is writable by earlier
# steps: -E ignores every PYTHON* variable (a PYTHONPATH would put a pull request's json.py or
# sitecustomize.py before the standard library) and -s the user site-packages under $HOME (its .pth files
# run at start-up). Our folder is the script's own, first on sys.path. -u: unbuffered log lines; -B: no
# .pyc is ever written (all are in the image).
WORKDIR /github/workspace
ENTRYPOINT ["/usr/local/bin/kalibra-python", "-E", "-s", "-u", "-B", "/opt/kalibra-action/entrypoint.py"]
