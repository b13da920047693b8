"""GPU-hours of configs/paper.yaml's LM stage (Llama-3-8B, LoRA, all four HH-RLHF subsets, 5 seeds ×
reward/DPO × anonymous/unanimous = 20 training runs of one epoch), from the FLOP count of
bench/gpu_check.py and an MFU (measured there, or assumed).

    python bench/gpu_hours.py --mfu 0.30          # or --gpu-check gpu_check.json to take the measured MFU

Tokens per pair are estimated on the real harmless-base test split (../shared/data/hh-rlhf/) at
1.3 Llama-3 tokens per whitespace word: the pairs kept under 512 tokens, and the padded tokens a
batch of 2 pairs (the paper's) processes — 4 sequences padded to the longest.
"""
from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import sys

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from hetpref.lm.resources import HH_RLHF_PAIRS, LLAMA3_8B as SHAPE, forward_flops, lora_step_flops  # noqa: E402

TRAIN_PAIRS = HH_RLHF_PAIRS["train"]
TEST_PAIRS = sum(HH_RLHF_PAIRS["test"].values())
LLAMA3_8B = dict(layers=SHAPE.layers, width=SHAPE.width, params=SHAPE.params, embedding=SHAPE.embedding,
                 head=SHAPE.embedding)
PEAK = 790e12  # bench/gpu_check.py's MFU reference; hetpref.lm.resources sizes the jobs per GPU type


def tokens_per_pair(hh_file: Path, tokens_per_word: float = 1.3, batch_pairs: int = 2, seed: int = 0):
    rows = [json.loads(line) for line in gzip.open(hh_file, "rt")]
    c = np.array([len(r["chosen"].split()) for r in rows]) * tokens_per_word
    r = np.array([len(r["rejected"].split()) for r in rows]) * tokens_per_word
    keep = np.maximum(c, r) <= 512
    idx = np.random.default_rng(seed).permutation(np.flatnonzero(keep))
    padded = [2 * batch_pairs * max(c[b].max(), r[b].max()) for b in
              (idx[i:i + batch_pairs] for i in range(0, len(idx) - batch_pairs + 1, batch_pairs))]
    return float(keep.mean()), float((c + r)[keep].mean()), float(np.mean(padded) / batch_pairs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mfu", type=float, nargs="+", default=[0.15, 0.30])
    ap.add_argument("--gpu-check", default=None, help="gpu_check.json: use its best LoRA DPO MFU")
    ap.add_argument("--hh-file", default=str(ROOT.parent / "shared/data/hh-rlhf/harmless-base_test.jsonl.gz"))
    ap.add_argument("--seeds", type=int, default=5)
    a = ap.parse_args(argv)
    mfus = list(a.mfu)
    if a.gpu_check:
        mfus = [json.loads(Path(a.gpu_check).read_text())["throughput"]["causal_lm"]["best"]["mfu"]]
    kept, real, padded = tokens_per_pair(Path(a.hh_file))
    pairs = kept * sum(TRAIN_PAIRS.values())
    m = LLAMA3_8B
    p_mm = {"dpo": m["params"] - m["embedding"], "reward": m["params"] - m["embedding"] - m["head"]}
    s_avg = padded / 2  # mean padded sequence length
    out = {"kept_share": kept, "train_pairs": pairs, "real_tokens_per_pair": real, "padded_tokens_per_pair": padded,
           "runs_per_objective": 2 * a.seeds, "estimates": []}
    for mfu in mfus:
        total = 0.0
        for obj, p in p_mm.items():
            tokens = pairs * padded
            flops = lora_step_flops(p, 0, m["layers"], m["width"], s_avg, tokens)  # LoRA's own FLOPs (< 0.1 %) left out
            eval_flops = forward_flops(p, m["layers"], m["width"], s_avg, TEST_PAIRS * padded)
            hours = (flops + eval_flops) / (mfu * PEAK) / 3600
            out["estimates"].append({"mfu": mfu, "objective": obj, "gpu_hours_per_run": hours})
            total += hours * 2 * a.seeds
        out["estimates"].append({"mfu": mfu, "objective": "all 20 runs", "gpu_hours": total})
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
