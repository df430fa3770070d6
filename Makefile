# The two commands the README starts with. Both work on a fresh machine with Python 3.11+.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench

$(BIN)/bot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(BIN)/bot

install: $(BIN)/bot

run: install
	$(BIN)/bot run

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check bot actions policies flows tests bench
	$(BIN)/mypy
