# Two commands: `make run` (install, migrate, start with demo data) and `make test` (install the
# dev extras, lint, type-check, run the whole suite). Both create .venv when it is missing and
# reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/creatorhub serve --demo

worker: $(VENV)/.installed-run
	$(BIN)/creatorhub worker

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# pytest exits 5 when it collected no test: treated as a failure, never as a pass.
pytest: $(VENV)/.installed-dev
	@$(BIN)/pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$code

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
