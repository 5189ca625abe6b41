# The runner builds this with no --build-arg, so the default base is what users get: pinned by its digest
# (Dependabot updates tag and digest). Local builds without Docker Hub:
# --build-arg BASE_IMAGE=localhost/debian-bookworm-python:local
ARG BASE_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/kalibra-action

# The runtime dependencies exactly as locked (requirements.txt: every file's sha256, see `make lock`): pip
# refuses any other file. Their test suites and C/Cython sources are dropped in the same layer
# (the compiled .pyc files stay: +20 MB, but they halve the start-up time of every run).
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt \
    && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    && find "$site" -depth -type d -name tests -exec rm -rf {} + \
    && find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.cpp' \
        -o -name '*.h' -o -name '*.f' \) -delete

COPY pyproject.toml README.md entrypoint.py ./
COPY kalibra_action ./kalibra_action
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info ./kalibra_action

# The runner mounts the workspace at /github/workspace and runs as root (USER is not supported there).
ENTRYPOINT ["python", "/opt/kalibra-action/entrypoint.py"]
