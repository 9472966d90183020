# Two commands: `make run` (install, migrate, start with demo data) and `make test` (install the
# dev extras, lint, type-check, run the whole suite). Both create .venv when it is missing and
# reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One pytest worker per core (pytest-xdist), each cloning its own test databases on the one
# server of the run; tests that share a costly fixture or a system resource (the embedded
# server's system user) name an xdist_group and run on one worker, one after another.
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: run test lint typecheck pytest worker clean bench bench-profile bench-tools load-tools \
	browser-tools

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
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# pytest exits 5 when it collected no test: treated as a failure, never as a pass.
pytest: $(VENV)/.installed-dev browser-tools load-tools
	@$(BIN)/pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$code

test: lint typecheck pytest

# The benchmark (docs/benchmarks.md): not a test. It writes bench/results/ and the tables of
# docs/benchmarks.md. BENCH_ARGS passes options, e.g.
# `make bench BENCH_ARGS="--duration 5 --database-url postgresql://postgres@127.0.0.1/postgres"`.
BENCH_ARGS ?=

bench: $(VENV)/.installed-dev bench-tools
	$(BIN)/python -m bench --docs $(BENCH_ARGS)

# Where an app process spends its CPU under wrk's load (py-spy, from the dev extras): the
# profiles go to bench/results/profile-*.{txt,md}.
bench-profile: $(VENV)/.installed-dev bench-tools
	$(BIN)/python -m bench --only profile $(BENCH_ARGS)

# pgbench drives the benchmark. pgserver ships one matching the embedded server; the system one
# (Debian's postgresql-client) serves an external server and is installed when missing. wrk
# drives its HTTP section (load-tools).
bench-tools: load-tools
	@if ! command -v pgbench >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "pgbench missing: installing postgresql-client"; \
	    apt-get install -y -q postgresql-client >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && apt-get install -y -q postgresql-client >/dev/null; } \
	      || echo "could not install postgresql-client: the bench uses pgserver's pgbench"; \
	  else \
	    echo "pgbench is not on PATH and apt-get is not usable here: install PostgreSQL's client"; \
	    echo "tools (Debian: postgresql-client); until then the bench uses pgserver's pgbench."; \
	  fi; \
	fi

# Debian's wrk: the HTTP load generator of the benchmark, whose smoke test runs with the suite
# (tests/bench). Installed here when missing and apt-get is usable as root, as on CI; elsewhere
# the benchmark's HTTP section and that test are skipped with a message.
load-tools:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "wrk missing: installing Debian's wrk (the benchmark's HTTP load generator)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; } \
	      || echo "could not install wrk: the benchmark's HTTP section will be skipped"; \
	  else \
	    echo "wrk is not on PATH and apt-get is not usable here: the benchmark's HTTP section"; \
	    echo "and its smoke test will be skipped (Debian: apt-get install wrk)."; \
	  fi; \
	fi

# The page tests drive Debian's chromium (Playwright's own browser download is not used); installed
# here when missing and apt-get is usable as root, as on CI. Elsewhere those tests are skipped
# with a message in pytest's summary. axe-core comes from the npm registry where npm is there.
browser-tools:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "chromium missing: installing Debian's chromium for the browser tests (takes a while)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
	      || echo "could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "/usr/bin/chromium is missing and apt-get is not usable here: the browser tests"; \
	    echo "will be skipped (Debian: apt-get install chromium)."; \
	  fi; \
	fi
	@# axe-core, run in the page by the shell's browser test (tests/web/test_shell_browser.py);
	@# without it that test runs only its own smaller accessibility check.
	@if [ ! -f tests/output/axe/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix tests/output/axe axe-core@4.14.1 >/dev/null 2>&1 \
	    || echo "could not install axe-core from npm: the accessibility check is the test's own"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
