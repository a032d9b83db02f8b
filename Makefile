# hrsync: `make demo` and `make test` do all set-up themselves from a fresh clone.
SHELL := /bin/bash
PYTHON_BASE := $(shell .ci/find-python)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint
NODE_STAMP := node_modules/.installed
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1
# sam build looks for python3.12 on PATH: put the interpreter we found there.
export PATH := $(dir $(PYTHON_BASE)):$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo up test test-unit lint build deploy bench clean chaos

$(STAMP): requirements-dev.txt layers/hrsync/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(LINT_STAMP): $(STAMP) requirements-lint.txt
	$(PY) -m pip install --quiet -r requirements-lint.txt
	touch $@

# Prism (the Staffology contract test's mock server) comes from npm.
$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(NODE_STAMP)

demo: $(STAMP)
	$(PY) -m sandbox.demo

up: $(STAMP)
	$(PY) -m sandbox.stack

test: setup
	$(PY) -m pytest

chaos: $(STAMP)
	$(PY) -m sandbox.chaos

# Speed, memory and cost figures on the local stack: a table, and bench/results.json (README: Performance).
bench: $(STAMP)
	$(PY) -m sandbox.bench

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/hrsync/hrsync hrsync_cli
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules
	$(VENV)/bin/sam validate --lint --region us-east-1
	$(VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

build: $(LINT_STAMP)
	$(VENV)/bin/sam build

deploy: build
	$(VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) node_modules .aws-sam .hrsync
