#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) on an air-gapped GPU node with the project's pinned LM stack.
#
# Such a node has no network and its image may hold other versions (e.g. an older transformers or
# torch), so the pinned pure-Python wheels (transformers, peft, accelerate) and tokenizers'
# manylinux wheel for Python 3.12, plus the HH-RLHF file the smoke reads, travel with the
# checkout in two gitignored folders (.whl/ ~18 MB, .gpu_data/ ~0.7 MB). torch,
# huggingface_hub (>= 1.31) and safetensors are the image's.
#
# 1. Bundle, once, on a machine with pip access:
#        bench/gpu_check.sh --prepare [path/to/harmless-base_test.jsonl.gz]   (default: $HETPREF_HH_RLHF_FILE)
# 2. Copy the checkout with .whl/ and .gpu_data/ to the GPU node and run there:
#        OUT=results/gpu_check bash bench/gpu_check.sh
#    gpu_check.json is written to $OUT; the log shows the versions actually imported.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    set -e
    hh="${2:-${HETPREF_HH_RLHF_FILE:-}}"
    [ -n "$hh" ] || { echo "--prepare: pass the harmless-base_test.jsonl.gz path or set HETPREF_HH_RLHF_FILE" >&2; exit 2; }
    pins=$(grep -oE '"(transformers|peft|accelerate|tokenizers)==[^"]+"' pyproject.toml | tr -d '"')
    rm -rf .whl && mkdir -p .whl .gpu_data
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl $pins
    cp "$hh" .gpu_data/
    du -sh .whl .gpu_data
    exit 0
fi

ls .whl/*.whl >/dev/null 2>&1 || { echo "no .whl/: run bench/gpu_check.sh --prepare here first, and carry .whl" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "${SITE:=/tmp/site}" .whl/*.whl \
    || { echo "installing the carried wheels failed" >&2; exit 2; }
export PYTHONPATH="$SITE" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 bench/gpu_check.py --out "${OUT:-results/gpu_check}" "$@"
