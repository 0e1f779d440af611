# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# uv is bootstrapped with pip when the machine has none; everything installs from the committed uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV_HOME := $(CURDIR)/.uv-tool
UV := $(shell command -v uv 2>/dev/null || echo $(UV_HOME)/bin/uv)
VENV := .venv
STAMP := $(VENV)/.installed
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# Trust the system's certificate store (where this workplace installs its CA), whatever the environment says.
export UV_NATIVE_TLS ?= 1

.PHONY: run test lint typecheck imports check bench bench-full clean

$(UV_HOME)/bin/uv:
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fanbase serve --demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

imports: $(STAMP)
	$(VENV)/bin/lint-imports

check: lint typecheck imports

test: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports
	# Two workers for the suite; schemathesis's cases collapse into one item under xdist, so it runs on its own.
	$(VENV)/bin/pytest -n 2 --dist loadfile --ignore=tests/api/test_api_fuzz.py
	$(VENV)/bin/pytest tests/api/test_api_fuzz.py

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run --fans 100000

bench-full: $(STAMP)
	$(VENV)/bin/python -m bench.run --fans 1000000

clean:
	rm -rf $(VENV) $(UV_HOME) .mypy_cache .pytest_cache .ruff_cache
