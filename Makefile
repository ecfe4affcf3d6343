# Kehu: `make serve` (first run: venv, install, config, migrations, demo data, server)
# and `make test` (dev dependencies, `make lint`, the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint bench bench-full clean

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

# quick sizes (under 3 minutes with PostgreSQL); bench-full: the sizes of bench/README.md
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/request_bench.py --requests 1000
	$(BIN)/python bench/core_bench.py --rows 20000 --queries 100
	$(BIN)/python bench/reporting_bench.py --rows 100000
	$(BIN)/python bench/events_bench.py --seconds 5 --events 1000 --requests 100

bench-full: $(VENV)/.dev-installed
	$(BIN)/python bench/request_bench.py --requests 5000
	$(BIN)/python bench/core_bench.py
	$(BIN)/python bench/reporting_bench.py
	$(BIN)/python bench/events_bench.py

clean:
	rm -rf $(VENV) *.egg-info build dist
