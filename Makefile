# The README's two commands are `make run` and `make test`; everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every install takes its versions from the lock (`make lock` regenerates it).
LOCK := constraints.txt
EXTRAS := dev,embedded
# Extra pytest arguments, e.g. `make test-fast PYTEST_ARGS="--lf -x"`.
PYTEST_ARGS ?=

.PHONY: run test test-fast lint lock bench install browser doctor clean config-doc

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

# Resolve the project's dependencies afresh in a scratch venv and pin them all.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	{ echo "# Pinned versions for every install (make run, make test, Dockerfile): make lock"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

# Debian's Chromium for the real-browser tests (Playwright's own browser download does not work here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi
	@# poppler-utils (pdftotext, pdftoppm): the report tests read the PDFs they generate.
	@if [ ! -x /usr/bin/pdftotext ] || [ ! -x /usr/bin/pdftoppm ]; then \
	  echo "installing Debian poppler-utils for the report tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils >/dev/null; \
	fi

run: install
	$(BIN)/orca-dashboard up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dashboard tests bench
	$(BIN)/lint-imports

# The whole suite, browser tests included: what .ci/run runs.
test: install browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The inner loop: everything but the browser tests; no apt-get, no lint.
test-fast: install
	$(BIN)/pytest --ignore=tests/e2e -m "not e2e" $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run_bench.py

doctor: install
	$(BIN)/orca-dashboard doctor

# Regenerate the README's configuration reference from dashboard/settings.py.
config-doc: install
	$(BIN)/orca-dashboard config-doc --write

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache artifacts
