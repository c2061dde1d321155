# The two README commands: `make run` (demo on SQLite with bundled samples) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLES ?= samples
DSN ?= sqlite:///sippy.db

.PHONY: venv chromium run test lint bench clean

$(BIN)/sippy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/sippy

venv: $(BIN)/sippy

# Debian's Chromium for the browser tests (tests/web): Playwright's own browser download does
# not work here. Installed when missing and we are root; otherwise the browser tests skip
# (and fail under CI=true).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found: apt-get install -y chromium (the browser tests skip without it)"; \
	  fi; }

run: venv
	$(BIN)/sippy samples $(SAMPLES)
	$(BIN)/sippy load $(SAMPLES) --database-dsn $(DSN)
	$(BIN)/sippy serve --database-dsn $(DSN) --listen :8080

test: venv chromium
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/load_bench.py
	$(BIN)/python bench/buildlog_bench.py
	$(BIN)/python bench/evidence_bench.py
	$(BIN)/python bench/cluster_bench.py
	$(BIN)/python bench/serve_bench.py

clean:
	rm -rf $(VENV) $(SAMPLES) sippy.db sippy.db-wal sippy.db-shm
