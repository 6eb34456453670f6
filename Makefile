# freqtrade-exec-ext: every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STRATEGY ?= STR001

.DEFAULT_GOAL := help
.PHONY: help install demo test lint bench clean

help: ## show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its test tools

demo: $(STAMP) ## backtest STR001 offline on the shipped data, then its execution-quality report
	PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/demo.sh $(STRATEGY)

test: $(STAMP) ## run the test suite (offline)
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff (lint and format) and mypy
	$(BIN)/ruff check freqtrade_exec_ext tests benchmarks user_data/strategies
	$(BIN)/ruff format --check freqtrade_exec_ext
	$(BIN)/mypy freqtrade_exec_ext

bench: $(STAMP) ## benchmarks: ratios measured in one run against a baseline
	$(BIN)/python -m benchmarks

clean: ## remove the venv and generated files
	rm -rf $(VENV) build *.egg-info user_data/backtest_results .pytest_cache
