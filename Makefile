# PaymentHub: one entry point. `make run` runs the platform, `make test` runs every test.
# Both create .venv and install what they need first; with no DATABASE_URL / REDIS_URL set
# they start an embedded PostgreSQL (pgserver) and Redis under var/.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck importlint migrations-check check bench loadtest chaos services-start services-stop clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## install, migrate, seed the demo merchant, run web + worker + beat on 127.0.0.1:8000
	$(PY) -m paymenthub.cli run

test: $(STAMP)  ## run the whole test suite (pass pytest options with ARGS="...")
	$(PY) -m paymenthub.cli test $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)  ## mypy needs settings, not a live database
	DATABASE_URL=$${DATABASE_URL:-postgresql://static@localhost/static} REDIS_URL=$${REDIS_URL:-redis://localhost:6379/0} $(PY) -m mypy .

importlint: $(STAMP)
	$(VENV)/bin/lint-imports

migrations-check: $(STAMP)
	$(PY) -m paymenthub.cli services start >/dev/null
	$(PY) manage.py makemigrations --check --dry-run

check: lint typecheck importlint migrations-check

bench: $(STAMP)  ## run every benchmark, or one with NAME=<name>
	$(PY) -m bench $(NAME)

loadtest: $(STAMP)  ## locust plays the API mix on loopback (ARGS="--users 16 --duration 60", or "--short")
	$(PY) -m bench.load $(ARGS)

chaos: $(STAMP)  ## chaos runs on loopback: kills, outages, processor faults (ARGS="worker_kill_webhooks --seeds 4 --short")
	$(PY) -m bench.chaos $(ARGS)

services-start: $(STAMP)
	$(PY) -m paymenthub.cli services start

services-stop: $(STAMP)
	$(PY) -m paymenthub.cli services stop

clean: services-stop
	rm -rf var
