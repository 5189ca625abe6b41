# make demo: set up and print the PR comment for the bundled demo traces.
# make test: set up and run the whole test suite.
# make fixtures: rewrite tests/data/formats/ with the real tools (scratch envs under build/fixtures-env/).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean setup fixtures

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Prints the PR comment for the bundled demo traces and keeps a copy in docs/example-comment.md.
demo: $(STAMP)
	@$(BIN)/kalibra-action demo --format markdown | tee docs/example-comment.md

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/compare_kalibra.py

# Installs Inspect AI, opentelemetry-sdk, Phoenix, promptfoo (+ Node 22 from the npm registry), langsmith and
# langfuse into build/fixtures-env/ (not the repo's .venv), runs them offline and records VERSIONS.json.
fixtures:
	$(PYTHON) scripts/fixtures/make_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
