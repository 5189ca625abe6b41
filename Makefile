# make demo: set up and print the PR comment for the bundled demo traces.
# make test: set up and run the whole test suite.
# make coverage: the whole suite with branch coverage, failing under the floor in pyproject.toml (CI runs this).
# make lock: recompile the hash-locked requirements.txt and requirements-build.txt from their .in files.
# make fixtures: rewrite tests/data/formats/ with the real tools (scratch envs under build/fixtures-env/).
# make mutation: mutation testing (mutmut) of the stats, gates, escaping and sticky-comment modules; slow,
#   not part of make test. `make mutation MODULES="gates escape"` mutates only those (names in scripts/mutation.py).
# make inputs: regenerate kalibra_action/github/action_inputs.py after editing action.yml's inputs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test coverage lint bench clean setup lock fixtures inputs mutation

# The runtime dependencies come from the hash-locked requirements.txt, as in the image; then the package and
# its dev tools (whose runtime requirements the lock already satisfies).
$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.txt
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Prints the PR comment for the bundled demo traces and keeps a copy in docs/example-comment.md.
demo: $(STAMP)
	@$(BIN)/kalibra-action demo --format markdown | tee docs/example-comment.md

# `make test COVERAGE=1` (what CI runs, and `make coverage`) adds branch coverage of kalibra_action
# (coverage.py through pytest-cov): the files below 100 % listed, and the floor of [tool.coverage.report]
# fail_under enforced. Off by default: tracing every line and branch nearly doubles the CPU time of the
# in-process tests on Python 3.11.
COV_ARGS := $(if $(COVERAGE),--cov --cov-report=term-missing:skip-covered,)
# The suite runs on every core (pytest-xdist): about 3.5 min on 2 cores, 6 min on one.
test: $(STAMP)
	$(BIN)/pytest -n auto $(COV_ARGS)

coverage:
	$(MAKE) test COVERAGE=1

lint: $(STAMP)
	$(BIN)/ruff check .

# One mutmut worker, module after module, each mutant against the tests that reach the mutated function;
# prints the kill rate per module and overall, and the mutants left alive (docs/mutation.md).
MODULES ?=
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py --survivors $(foreach m,$(MODULES),--module $(m))

# action.yml declares the inputs; the package gets their defaults from this generated module (see the script).
inputs: $(STAMP)
	$(BIN)/python scripts/gen_action_inputs.py

bench: $(STAMP)
	$(BIN)/python bench/compare_kalibra.py

# Recompiles requirements.txt from the pins in requirements.in, with the sha256 of every wheel and sdist on
# PyPI (all platforms: the image is built for linux x86_64 and aarch64, the venv may be any CPython >= 3.11).
# requirements-build.txt locks the image's build backend (setuptools) the same way.
LOCK := CUSTOM_COMPILE_COMMAND='make lock' $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple
lock: $(STAMP)
	$(LOCK) --output-file requirements.txt requirements.in
	$(LOCK) --output-file requirements-build.txt requirements-build.in

# Installs Inspect AI, opentelemetry-sdk, Phoenix, promptfoo (+ Node 22 from the npm registry), langsmith and
# langfuse into build/fixtures-env/ (not the repo's .venv), runs them offline and records VERSIONS.json.
fixtures:
	$(PYTHON) scripts/fixtures/make_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info mutants
