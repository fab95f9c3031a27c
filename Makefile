# Two commands on a fresh machine: `make run` (serve the demo) and `make test` (pass every test).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup migrate lint clean

$(VENV)/.installed: requirements.txt cli/pyproject.toml
	@PYTHON=$$(scripts/find-python) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  echo "Creating $(VENV) with $$PYTHON"; rm -rf $(VENV); $$PYTHON -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q -e ./cli  # ivmctl, the API's command-line client (its own package)
	@touch $@

setup: $(VENV)/.installed

migrate: setup
	$(PY) manage.py migrate --no-input -v0

# The demo: SQLite and the in-memory layer unless DATABASE_URL / REDIS_URL say otherwise; the
# simulated IVM fleet (ivmsim) registered and synced; daphne, with the engine inside it (a worker of its own with
# REDIS_URL). Ctrl-C stops all, the engine handing its migrations over first.
# DEBUG=1 unless set (ivmweb keeps DEBUG off when it is unset), for the migrate it depends on too.
run: export DEBUG ?= 1
run: migrate
	$(PY) manage.py setup_demo
	HOST=$(HOST) PORT=$(PORT) scripts/run-demo

# Tests use DATABASE_URL / REDIS_URL when set; otherwise the local PostgreSQL and Redis when they
# answer, otherwise SQLite and the in-memory layer (the pytest header says which).
# TEST_PROCESSES pytest processes (pytest-xdist), a test file to each: the suite mostly waits on simulated IVMs'
# clocks, leases and polls, so more processes than cores; each has its own test database and channel prefix.
TEST_PROCESSES ?= 3
test: setup
	@scripts/ensure-chromium
	@scripts/ensure-deploy-tools
	@if [ -z "$${DATABASE_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/ivmweb; fi; \
	if [ -z "$${REDIS_URL:-}" ] && [ "$$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; then \
	  export REDIS_URL=redis://127.0.0.1:6379/0; fi; \
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data staticfiles .pytest_cache .ruff_cache
