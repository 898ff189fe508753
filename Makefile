# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint imports typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p out
	$(BIN)/thecal simulate examples/demo.toml --plot out/demo.png

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The house's import contract (pyproject.toml, [tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo

# mypy: strict for the firmware core and the therapy layer, the default level elsewhere (pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint imports typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
