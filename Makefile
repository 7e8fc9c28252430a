# The two commands of the README are `make run` and `make test`; both install first if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench bench-smoke soak synth deploy destroy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,aws,bench]'
	@touch $(STAMP)

run: install
	$(BIN)/pizzabus serve

test: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=80

lint: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[compare]'
	$(BIN)/python -m benchmarks

bench-smoke: install
	$(BIN)/python -m benchmarks --smoke

# A long run at a fraction of saturation; verdict on bounded disk and memory (not in `make test`).
# make soak SOAK_ARGS="--minutes 10 --memory"
SOAK_ARGS ?=
soak: install
	$(BIN)/python -m benchmarks.soak --minutes 30 --fraction 0.5 $(SOAK_ARGS)

synth: install
	$(BIN)/pizzabus synth --out cdk.out

deploy: install
	$(BIN)/pizzabus deploy

destroy: install
	$(BIN)/pizzabus destroy

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
