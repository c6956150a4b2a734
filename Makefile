# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv and install the project into it first (once; again when
# pyproject.toml changes). Nothing else needs to be installed by hand.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Embedded broker + topics + worker + traffic generator + live view. Ctrl-C stops all.
demo: $(STAMP)
	$(VENV)/bin/ecomstream demo

## The whole suite: lint, unit, doctests, agent tests, integration on a real broker.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Throughput / latency harness (prints figures; asserts nothing about speed).
bench: $(STAMP)
	$(PY) -m benchmarks.throughput

clean:
	rm -rf $(VENV) .demo data .pytest_cache .hypothesis
