# The two README commands: `make run` (demo on SQLite with bundled samples) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLES ?= samples
DSN ?= sqlite:///sippy.db

.PHONY: venv run test lint bench clean

$(BIN)/sippy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/sippy

venv: $(BIN)/sippy

run: venv
	$(BIN)/sippy samples $(SAMPLES)
	$(BIN)/sippy load $(SAMPLES) --database-dsn $(DSN)
	$(BIN)/sippy serve --database-dsn $(DSN) --listen :8080

test: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/load_bench.py
	$(BIN)/python bench/buildlog_bench.py
	$(BIN)/python bench/evidence_bench.py
	$(BIN)/python bench/cluster_bench.py

clean:
	rm -rf $(VENV) $(SAMPLES) sippy.db sippy.db-wal sippy.db-shm
