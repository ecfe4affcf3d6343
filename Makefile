# Kehu: `make serve` (first run: venv, install, config, migrations, demo data, server)
# and `make test` (dev dependencies, `make lint`, the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint bench clean

$(BIN)/kehu: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: $(BIN)/kehu examples/kehu-loyalty/pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev]" -e examples/kehu-loyalty
	touch $@

serve: $(BIN)/kehu
	$(BIN)/kehu init
	$(BIN)/kehu migrate
	$(BIN)/kehu demo
	$(BIN)/kehu serve --host $(HOST) --port $(PORT)

test: lint
	$(BIN)/pytest

# ruff, and mypy over the typed surface ([tool.mypy] files: kehu/core, kehu/api, kehu/sdk.py)
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/core_bench.py
	$(BIN)/python bench/reporting_bench.py
	$(BIN)/python bench/events_bench.py

clean:
	rm -rf $(VENV) *.egg-info build dist
