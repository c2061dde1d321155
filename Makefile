# The two README commands: `make run` (demo on SQLite with bundled samples) and `make test`.
# Installs come from the hashed lock files in requirements/ (made by `make lock` from
# pyproject.toml), so a fresh machine gets exactly what was tested, whatever PyPI serves today.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLES ?= samples
DSN ?= sqlite:///sippy.db
LATEST_VENV ?= .venv-latest
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt
# pip-compile resolves against PyPI alone: no machine's pip.conf, find-links or local mirror
# may leak into the lock (what it holds must install on any machine).
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
	--no-emit-index-url --no-emit-find-links --resolver=backtracking
# Exactly the locked files, then the project itself with nothing more.
INSTALL_LOCK := pip install --quiet --require-hashes --no-deps -r
INSTALL_SELF := pip install --quiet --no-deps --no-build-isolation -e .

.PHONY: venv dev-venv chromium run test test-latest lock lint bench clean image-tools image-base image deploy-check

$(VENV)/.runtime: $(RUNTIME_LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(INSTALL_LOCK) $(RUNTIME_LOCK)
	$(BIN)/$(INSTALL_SELF)
	$(BIN)/pip check
	touch $@

$(VENV)/.dev: $(DEV_LOCK) $(VENV)/.runtime
	$(BIN)/$(INSTALL_LOCK) $(DEV_LOCK)
	$(BIN)/pip check
	touch $@

venv: $(VENV)/.runtime

dev-venv: $(VENV)/.dev

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

# The follower loads the samples through the task path (in-process on SQLite), then the
# server keeps following them: a run folder copied under $(SAMPLES) appears by itself.
run: venv
	$(BIN)/sippy samples $(SAMPLES)
	$(BIN)/sippy follow $(SAMPLES) --once --database-dsn $(DSN)
	$(BIN)/sippy serve --database-dsn $(DSN) --listen :8080 --follow $(SAMPLES)

test: dev-venv chromium
	$(BIN)/ruff check src tests bench tools
	$(BIN)/pytest -q

# Before each `make lock`: the suite on the newest releases that pyproject.toml's bounds allow,
# in a scratch venv, unlocked. Green here means the refresh is safe; red shows an upstream break
# before any user meets it. Prints what differs from the lock.
test-latest: chromium
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install --quiet --upgrade pip
	$(LATEST_VENV)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST_VENV)/bin/python tools/lockcheck.py $(DEV_LOCK)
	$(LATEST_VENV)/bin/ruff check src tests bench tools
	SIPPY_UNLOCKED=1 $(LATEST_VENV)/bin/pytest -q -p no:cacheprovider

# Regenerate both locks from pyproject.toml at the newest allowed versions (run test-latest
# first). The dev lock is resolved first; the runtime lock is held to the same versions.
lock: dev-venv
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_FLAGS) --upgrade --extra dev -o $(DEV_LOCK) pyproject.toml
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_FLAGS) --upgrade -c $(DEV_LOCK) -o $(RUNTIME_LOCK) pyproject.toml

lint: dev-venv
	$(BIN)/ruff check src tests bench tools

bench: dev-venv
	$(BIN)/python bench/load_bench.py
	$(BIN)/python bench/buildlog_bench.py
	$(BIN)/python bench/evidence_bench.py
	$(BIN)/python bench/cluster_bench.py
	$(BIN)/python bench/serve_bench.py
	$(BIN)/python bench/follow_bench.py

# The container image (deploy/Containerfile) and a compose deployment run once for real
# (deploy/check.py). No image registry is needed: the base is Debian 12 made by debootstrap.
# Needs root (debootstrap, podman); PODMAN_CONF tunes podman for VMs like this project's CI
# machine (empty: podman's own configuration).
PODMAN_CONF ?= deploy/containers-vm.conf
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
DEBIAN_MIRROR ?= http://deb.debian.org/debian
BASE_IMAGE ?= localhost/sippy-base:bookworm
PODMAN := $(if $(PODMAN_CONF),CONTAINERS_CONF=$(abspath $(PODMAN_CONF))) podman

image-tools:
	@command -v podman >/dev/null && command -v podman-compose >/dev/null \
	  && command -v debootstrap >/dev/null && command -v runc >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq podman podman-compose runc debootstrap >/dev/null; }

image-base: image-tools
	$(PODMAN) image exists $(BASE_IMAGE) || { \
	  rm -rf .rootfs \
	  && debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	       bookworm .rootfs $(DEBIAN_MIRROR) \
	  && tar -C .rootfs -c . | $(PODMAN) import - $(BASE_IMAGE) && rm -rf .rootfs; }

image: image-base
	$(PODMAN) build -f deploy/Containerfile --build-arg BASE=$(BASE_IMAGE) \
	  --secret id=ca,src=$(CA_BUNDLE) -t localhost/sippy:latest .
	$(PODMAN) build -f deploy/postgres.Containerfile --build-arg BASE=$(BASE_IMAGE) \
	  -t localhost/sippy-postgres:15 deploy

deploy-check: dev-venv image
	$(if $(PODMAN_CONF),CONTAINERS_CONF=$(abspath $(PODMAN_CONF))) $(BIN)/python deploy/check.py

clean:
	rm -rf $(VENV) $(LATEST_VENV) $(SAMPLES) sippy.db sippy.db-wal sippy.db-shm sippy.db.locks
