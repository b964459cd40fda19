# metrika-offline: every target sets up its own virtualenv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# gcloud-tasks-emulator pins protobuf<5 and google-cloud-tasks<3: it gets a virtualenv of its
# own, so the project's stays on the versions the function is deployed with.
TASKS_VENV := $(VENV)/tasks-emulator

.PHONY: install test lint bench demo fake-metrika mutate clean

install: $(STAMP)

$(STAMP): pyproject.toml function/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install --quiet 'gcloud-tasks-emulator==0.6.2'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 tests --ignore=tests/bench

lint: install
	$(BIN)/ruff check function tests
	$(BIN)/ruff format --check function tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	@if command -v terraform >/dev/null 2>&1; then terraform fmt -check -recursive infra; \
	else echo "terraform not installed: skipping terraform fmt"; fi

bench: install
	$(BIN)/python -m tests.bench

mutate: install
	$(BIN)/python -m tests.mutate

demo: install
	$(BIN)/python -m tests.demo

fake-metrika: install
	$(BIN)/python -m tests.fakes.metrika --port 8765

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .bench .demo .mutate
