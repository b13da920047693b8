#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py) on the lent H200 with the project's pinned LM stack.
#
# That machine has no network and its image holds other versions (transformers 5.17, accelerate
# 1.15, torch 2.11: /work/.library/device/KINDS.md), so the pinned pure-Python wheels
# (transformers, peft, accelerate) and tokenizers' manylinux wheel for its Python 3.12, plus the
# HH-RLHF file the smoke reads, travel with the working tree in two gitignored folders
# (.whl/ ~18 MB, .gpu_data/ ~0.7 MB; the limit is 64 MiB). torch, huggingface_hub (≥ 1.31: it has
# 1.33) and safetensors are the image's.
#
# 1. Here, once, from the checkout the device tool sends (the session's own repo root):
#        bench/gpu_check.sh --prepare [path/to/harmless-base_test.jsonl.gz]
# 2. Then one device call:
#        run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu_data"], timeout_s=540)
#    gpu_check.json comes back under $OUT; the log shows the versions actually imported.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    set -e
    hh="${2:-../shared/data/hh-rlhf/harmless-base_test.jsonl.gz}"
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
