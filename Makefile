# Jupiter API. `make run` starts the local stack; `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev
export JUPITER_API_PORT ?= 5012

.PHONY: install run test lint typecheck unit functional e2e bench package clean sdks

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m local.stack

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Where the suite records the AWS calls the service code makes, for the IAM
# policy check that follows it (tests/policy); .ci/run gives that check's
# pytest its own JUnit report through POLICY_PYTEST_ARGS.
AWS_ACTIONS := $(CURDIR)/dist/aws-actions
POLICY_PYTEST_ARGS ?=

# Every check, cheapest first, in this order even under `make -j`.
test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/cfn-lint infrastructure/template.yaml
	rm -rf $(AWS_ACTIONS)
	JUPITER_RECORD_AWS_ACTIONS=$(AWS_ACTIONS) $(BIN)/python -m pytest -n 2 --dist loadgroup
	JUPITER_RECORD_AWS_ACTIONS=$(AWS_ACTIONS) $(BIN)/python -m pytest -q tests/policy $(POLICY_PYTEST_ARGS)

unit functional e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/$@

# Schemathesis over the whole API of a live local stack, with an admin key: no
# 5xx, every response true to its schema. FUZZ_EXAMPLES per operation (300),
# FUZZ_SEED to replay a run.
FUZZ_EXAMPLES ?= 300
.PHONY: fuzz
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_PHASES=examples,coverage,fuzzing \
	FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -q -rP tests/e2e/test_schemathesis.py

# The Python, JavaScript and Unity SDKs, unpacked and zipped, from the same
# OpenAPI document the service serves.
sdks: $(STAMP)
	$(BIN)/python -m chalicelib.sdks dist/sdks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# `chalice package` offline (vendor/ from the virtualenv, see ops/package.py)
# into dist/$(STAGE)/ (sam.json, deployment.zip, single/sam.json), then
# cfn-lint on those templates and on infrastructure/. `make test` runs it for
# dev and prod (tests/functional/test_package.py).
package: $(STAMP)
	$(BIN)/python -m ops.package --stage $(STAGE)

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache
