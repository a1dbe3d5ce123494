# The two commands: `make demo` and `make test`. Both build .venv from a Python 3.11+ interpreter.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/leakwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/corpus.py --staff 47000 --out benchmarks/out/corpus --seed 1
	$(BIN)/python benchmarks/evaluate.py benchmarks/out/corpus
	$(BIN)/python benchmarks/throughput.py --staff 47000 250000 --mb 50

clean:
	rm -rf $(VENV) .leakwatch build *.egg-info
