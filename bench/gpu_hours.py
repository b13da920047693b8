"""GPU-hours of configs/paper.yaml's LM stage (Llama-3-8B, LoRA, all four HH-RLHF subsets, 5 seeds ×
reward/DPO × anonymous/unanimous = 20 training runs of one epoch), from the FLOP count of
bench/gpu_check.py and an MFU (measured there, or assumed), and the work a checkpoint leaves at risk.

    python bench/gpu_hours.py --mfu 0.30          # or --gpu-check gpu_check.json to take the measured MFU

The step shape is the one the paper config runs (config.yaml overlaid with configs/paper.yaml):
lm.train.batch_size pairs a step, pairs kept up to lm.max_length tokens. Tokens per pair are
estimated on the real harmless-base test split (``--hh-file``) at 1.3 Llama-3 tokens per
whitespace word: the pairs kept, and the padded tokens a batch processes — 2 × batch_size
sequences padded to the longest. With ``--gpu-check`` the MFU is the one gpu_check measured at
that step shape (``paper_step``), not the best point of its sweep.

MFU here is against the measured bf16 matmul peak of the H200 (~790 TFLOP/s); the same rate as a
share of the 989 TFLOP/s dense bf16 spec is printed beside it.

Checkpoints: a kill loses the steps since the last checkpoint, at most lm.train.checkpoint_every;
``checkpoint`` gives that as minutes of GPU time at each MFU, as a share of a run, and the
checkpoints per run with the bytes they write (LoRA weights, AdamW's two moments, fp32).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# one FLOP count for MFU, GPU-hours and the jobs' limits; one set of HH-RLHF sizes and model shapes
from hetpref.config import deep_merge  # noqa: E402 (after sys.path)
from hetpref.lm.data.hh_rlhf import HH_RLHF_PAIRS  # noqa: E402 (after sys.path)
from hetpref.lm.resources import LLAMA3_8B as SHAPE  # noqa: E402 (after sys.path: src/ is not installed here)
from hetpref.lm.resources import forward_flops, lora_step_flops  # noqa: E402 (after sys.path)

TRAIN_PAIRS = HH_RLHF_PAIRS["train"]
TEST_PAIRS = sum(HH_RLHF_PAIRS["test"].values())
LLAMA3_8B = dict(layers=SHAPE.layers, width=SHAPE.width, params=SHAPE.params, embedding=SHAPE.embedding,
                 head=SHAPE.embedding, kv_width=SHAPE.kv_width)
PEAK = 790e12  # measured bf16 matmul peak of an H200 (8192³ torch.matmul); MFU here is against it
SPEC = 989e12  # dense bf16 data-sheet figure of the H100 SXM / H200


def paper_config() -> dict:
    """config.yaml overlaid with configs/paper.yaml, as ``snakemake --configfile configs/paper.yaml`` reads it."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    return deep_merge(cfg, yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text()))


def tokens_per_pair(hh_file: Path, tokens_per_word: float = 1.3, batch_pairs: int = 2, seed: int = 0,
                    max_length: int = 512):
    rows = [json.loads(line) for line in gzip.open(hh_file, "rt")]
    c = np.array([len(r["chosen"].split()) for r in rows]) * tokens_per_word
    r = np.array([len(r["rejected"].split()) for r in rows]) * tokens_per_word
    keep = np.maximum(c, r) <= max_length
    idx = np.random.default_rng(seed).permutation(np.flatnonzero(keep))
    padded = [2 * batch_pairs * max(c[b].max(), r[b].max()) for b in
              (idx[i:i + batch_pairs] for i in range(0, len(idx) - batch_pairs + 1, batch_pairs))]
    return float(keep.mean()), float((c + r)[keep].mean()), float(np.mean(padded) / batch_pairs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mfu", type=float, nargs="+", default=[0.15, 0.30], help="against the ~790 TFLOP/s matmul peak")
    ap.add_argument("--gpu-check", default=None, help="gpu_check.json: use its MFU at the paper's step shape")
    ap.add_argument("--hh-file", default=os.environ.get("HETPREF_HH_RLHF_FILE") or None,
                    help="the harmless-base test split (default: $HETPREF_HH_RLHF_FILE)")
    a = ap.parse_args(argv)
    lm = paper_config()["lm"]
    batch, max_length, every = lm["train"]["batch_size"], lm["max_length"], lm["train"]["checkpoint_every"]
    n_runs = len(lm["seeds"]) * len(lm["datasets"])  # per objective
    mfus = list(a.mfu)
    if a.gpu_check:
        step = json.loads(Path(a.gpu_check).read_text())["throughput"]["causal_lm"]["paper_step"]
        if step is None or step["batch_pairs"] != batch:
            raise SystemExit(f"{a.gpu_check} has no run at the paper's step of {batch} pairs")
        mfus = [step["mfu_vs_matmul_790"]]
    if not a.hh_file:
        ap.error("no HH-RLHF file: pass --hh-file harmless-base_test.jsonl.gz or set HETPREF_HH_RLHF_FILE")
    kept, real, padded = tokens_per_pair(Path(a.hh_file), batch_pairs=batch, max_length=max_length)
    pairs = kept * sum(TRAIN_PAIRS.values())
    steps = int(pairs // batch)
    m = LLAMA3_8B
    p_mm = {"dpo": m["params"] - m["embedding"], "reward": m["params"] - m["embedding"] - m["head"]}
    s_avg = padded / 2  # mean padded sequence length
    p_lora = SHAPE.lora_params(lm["train"]["lora_r"])
    out = {"kept_share": kept, "train_pairs": pairs, "real_tokens_per_pair": real, "padded_tokens_per_pair": padded,
           "step_shape": {"pairs": batch, "mean_padded_tokens_per_sequence": s_avg, "tokens_per_step": batch * padded},
           "steps_per_run": steps, "runs_per_objective": n_runs, "estimates": [],
           "checkpoint": {"checkpoint_every": every, "checkpoints_per_run": steps // every if every else 0,
                          "share_of_run_at_risk": every / steps if every else 1.0,
                          # LoRA weights + AdamW exp_avg and exp_avg_sq, fp32 (peft keeps adapters in fp32)
                          "bytes_per_checkpoint": 3 * 4 * p_lora,
                          "bytes_per_run": 3 * 4 * p_lora * (steps // every if every else 0),
                          "minutes_at_risk": []}}
    for mfu in mfus:
        total = 0.0
        for obj, p in p_mm.items():
            # LoRA's own FLOPs (< 0.1 %) left out, as in gpu_check's MFU
            step_flops = lora_step_flops(p, 0, m["layers"], m["width"], s_avg, batch * padded)
            flops = step_flops * steps
            eval_flops = forward_flops(p, m["layers"], m["width"], s_avg, TEST_PAIRS * padded)
            hours = (flops + eval_flops) / (mfu * PEAK) / 3600
            step_s = step_flops / (mfu * PEAK)
            out["estimates"].append({"mfu_vs_matmul_790": mfu, "mfu_vs_spec_989": mfu * PEAK / SPEC, "objective": obj,
                                     "step_seconds": step_s, "gpu_hours_per_run": hours})
            if every:
                out["checkpoint"]["minutes_at_risk"].append({"mfu_vs_matmul_790": mfu, "objective": obj,
                                                             "minutes": every * step_s / 60})
            total += hours * n_runs
        out["estimates"].append({"mfu_vs_matmul_790": mfu, "mfu_vs_spec_989": mfu * PEAK / SPEC,
                                 "objective": f"all {2 * n_runs} runs", "gpu_hours": total})
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
