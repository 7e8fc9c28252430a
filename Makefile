# The two commands of the README are `make run` and `make test`; both install first if needed.
# Each target installs only what it needs into .venv: `make run` the runtime alone (no test
# tools, no AWS CDK, no benchmark libraries); `make test`, `make synth` and `make bench` add
# their extras the first time they run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# One stamp per set of extras, redone when pyproject.toml changes.
RUN_STAMP   := $(VENV)/.installed-run
TEST_STAMP  := $(VENV)/.installed-test
AWS_STAMP   := $(VENV)/.installed-aws
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install install-test install-aws run test lint mutate bench bench-smoke soak synth deploy destroy clean

install: $(RUN_STAMP)
install-test: $(TEST_STAMP)
install-aws: $(AWS_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

# The tests need the AWS extra (CDK templates) and the benchmark one (the smoke benchmark).
$(TEST_STAMP): pyproject.toml $(RUN_STAMP)
	$(PIP) -e '.[test,aws,bench]'
	@touch $@ $(AWS_STAMP)

$(AWS_STAMP): pyproject.toml $(RUN_STAMP)
	$(PIP) -e '.[aws]'
	@touch $@

$(BENCH_STAMP): pyproject.toml $(RUN_STAMP)
	$(PIP) -e '.[bench,compare]'
	@touch $@

# `make run ARGS="--memory --port 9000"` passes options to `pizzabus serve`.
run: install
	$(BIN)/pizzabus serve $(ARGS)

test: install-test
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=80

lint: install-test
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples
	$(BIN)/mypy

# Mutation testing of the modules where a silent bug costs the most (pyproject [tool.mutmut]);
# slow, so not part of `make test`. One module: make mutate MUTANTS='pizzabus.sdk.grants.*'
MUTANTS ?=
mutate: install-test
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[mutate]'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python -m tests.mutation_scores

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

bench-smoke: install-test
	$(BIN)/python -m benchmarks --smoke

# A long run at a fraction of saturation; verdict on bounded disk and memory (not in `make test`).
# make soak SOAK_ARGS="--minutes 10 --memory"
SOAK_ARGS ?=
soak: install-test
	$(BIN)/python -m benchmarks.soak --minutes 30 --fraction 0.5 $(SOAK_ARGS)

synth: $(AWS_STAMP)
	$(BIN)/pizzabus synth --out cdk.out

deploy: $(AWS_STAMP)
	$(BIN)/pizzabus deploy

destroy: $(AWS_STAMP)
	$(BIN)/pizzabus destroy

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache mutants
