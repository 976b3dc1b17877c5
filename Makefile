# meshmend: the two commands a newcomer runs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.meshmend-installed
COLLECTION_LINK := collections/ansible_collections/meshmend/multicluster
PYTEST_ARGS ?=
# Two pytest workers (the machine has 2 cores); a test file stays on one worker, so its module-scoped lab
# is started once. PYTEST_XDIST= runs everything in one process.
PYTEST_XDIST ?= -n 2 --dist loadfile
MATRIX_ARGS ?=

export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: all venv collection test unit lab integration sanity lint matrix demo bench clean reallab-build test-real

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
	$(BIN)/python -m pytest tests/lab $(PYTEST_XDIST) $(PYTEST_ARGS)

integration: venv collection
	$(BIN)/python -m pytest tests/integration $(PYTEST_XDIST) $(PYTEST_ARGS)

sanity: venv
	$(BIN)/python tests/sanity/run_sanity.py

lint: venv collection
	$(BIN)/ansible-lint

test: venv collection
	$(BIN)/python -m pytest tests/unit tests/lab tests/integration $(PYTEST_XDIST) $(PYTEST_ARGS)
	$(BIN)/python tests/sanity/run_sanity.py
	$(BIN)/ansible-lint

# Sanity and the version-dependent tests on every supported ansible-core (2.16-2.19), each in its own
# virtual environment cached under .cache/matrix/; not part of `make test` (see README). .ci/run runs it.
matrix: venv collection
	$(BIN)/python tests/matrix/run_matrix.py $(MATRIX_ARGS)

demo: venv collection
	$(BIN)/python scripts/demo.py

# make bench BENCH_SIZES=2,10,50,200,500 (issue 17's targets are printed beside the results)
BENCH_SIZES ?= 2,10,50
bench: venv collection
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES) $(BENCH_ARGS)

# Real kube-apiserver/etcd/kwok/istiod built from the Go modules pinned in reallab/ into a cache keyed by
# the pins (~/.cache/meshmend-reallab; a no-op when warm). Needs Go and the Go module proxy.
reallab-build:
	nice -n 10 $(PYTHON) reallab/build.py

# meshlab held to the real components (tests/real): builds what reallab/ needs when the cache is cold (fails,
# never skips, without Go); one process, so the summary counts every scenario and observation.
test-real: venv collection
	$(BIN)/python -m pytest tests/real -p no:xdist -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf collections reports .lab tests/output
