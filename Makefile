# Two entry points: `make run` (set up, fetch data, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
OUT ?= reports/latest

.PHONY: run quick train test setup setup-test setup-notebooks data notebooks bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[all]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[all,test]'
	touch $@

$(VENV)/.installed-notebooks: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[all,notebooks]'
	touch $@

setup: $(VENV)/.installed-run

setup-test: $(VENV)/.installed-test

setup-notebooks: $(VENV)/.installed-notebooks

data: setup
	sh scripts/install-system-data.sh
	$(BIN)/trainlab data fetch mnist
	-$(BIN)/trainlab data fetch fashion-mnist

run: data
	$(BIN)/trainlab reproduce --out $(OUT)

quick: data
	$(BIN)/trainlab reproduce --quick --out $(OUT)-quick

notebooks: setup-notebooks
	sh scripts/install-system-data.sh
	$(BIN)/trainlab data fetch mnist
	$(BIN)/jupyter lab notebooks

train: data
	$(BIN)/trainlab train --dataset mnist --epochs 5 --out runs/mlp-mnist

test: setup-test
	sh scripts/install-system-data.sh
	-$(BIN)/trainlab data fetch mnist
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2

bench: setup-test
	$(BIN)/python benchmarks/bench_cnn.py --models all --threads 2 1 --rounds 3 --json benchmarks/results/bench_all.json
	$(BIN)/python benchmarks/speed_table.py benchmarks/results/bench_all.json

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
