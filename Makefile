# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run system test lint imports typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The whole demo clinic: six virtual pumps as daemons in accelerated time, the clinician programmer at
# http://127.0.0.1:8000 with its demo accounts printed, and the therapy manager app of each patient with a PTM
# (from http://127.0.0.1:8101); Ctrl-C stops everything it started.
run: $(STAMP)
	$(BIN)/thecal clinic demo --dir out/demo-clinic

# What the tests need of the machine: Debian's chromium for the browser tests, and the PostgreSQL server on
# 127.0.0.1:5432 for the clinic's database tests, started (pg_ctlcluster) if it does not answer.
system:
	.ci/setup-system chromium postgresql

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The house's import contract (pyproject.toml, [tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo

# mypy: strict for the firmware core and the therapy layer, the default level elsewhere (pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) system lint imports typecheck
	$(BIN)/pytest -q

# The benchmarks compare with peers that only they need (the `bench` extra: simglucose); `make test` does not.
$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.bench-installed

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
