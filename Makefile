.PHONY: install serve test lint format

install:
	python3 -m venv .venv && .venv/bin/pip install -e '.[test]'

serve:
	python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/eventdouble serve

test:
	python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
