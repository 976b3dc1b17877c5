# meshmend: the two commands a newcomer runs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.meshmend-installed
COLLECTION_LINK := collections/ansible_collections/meshmend/multicluster
PYTEST_ARGS ?=

export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: all venv collection test unit lab integration sanity lint demo bench clean

all: test

# Idempotent: recreated only when missing or when the requirements change.
$(STAMP): requirements.txt requirements-test.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@touch $@

venv: $(STAMP)

# The collection is used from the repo itself: collections/ is generated and git-ignored.
$(COLLECTION_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn ../../.. $@

collection: $(COLLECTION_LINK)

unit: venv collection
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lab: venv collection
	$(BIN)/python -m pytest tests/lab $(PYTEST_ARGS)

integration: venv collection
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

sanity: venv
	$(BIN)/python tests/sanity/run_sanity.py

lint: venv collection
	$(BIN)/ansible-lint

test: venv collection
	$(BIN)/python -m pytest tests/unit tests/lab tests/integration $(PYTEST_ARGS)
	$(BIN)/python tests/sanity/run_sanity.py
	$(BIN)/ansible-lint

demo: venv collection
	$(BIN)/python scripts/demo.py

bench: venv collection
	$(BIN)/python bench/bench.py

clean:
	rm -rf collections reports .lab tests/output
