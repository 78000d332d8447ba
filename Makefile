# Two commands do all set-up: `make run` and `make test`. Both create the virtual environment when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint migrate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/linli migrate

run: migrate
	$(BIN)/linli run

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto $(PYTEST_ARGS)  # one worker per CPU: the suite stays under five minutes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/updates.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/wechat.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/evaluation.py

clean:
	rm -rf $(VENV) var .pytest_cache
