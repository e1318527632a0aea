# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install browser lint bench clean worker

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (never a browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || sh scripts/install-chromium.sh

run: install
	$(BIN)/leadhub db upgrade
	$(BIN)/leadhub demo --if-empty
	LEADHUB_BASE_URL="$${LEADHUB_BASE_URL:-http://$(HOST):$(PORT)}" $(BIN)/leadhub serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/leadhub worker

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check core connectors webapp tests bench migrations

# The spine's import benchmark (issue #2's sizes short of 1M); the others are listed in BENCHMARKS.md.
bench: install
	$(BIN)/python bench/import_bench.py --sizes 10000 100000

clean:
	rm -rf $(VENV) instance/*.db*
