"""Throughput of the LM trainer (``hetpref.lm.training.train.train``) on the default tiny model, CPU.

Generates demo HH-RLHF pairs (the workflow's generator), keeps those of ≤ 512 tokens, trains the
default tiny Llama (config.yaml's ``lm.tiny``: vocabulary 2,000, width 64, 2 layers) with LoRA for
one epoch of batches of 2 pairs, as a DPO policy and as a reward model, and reports the training
loop's tokens/s (real tokens, from the run's provenance: loop time only, model build and data
excluded) and the wall time of each ``train`` call. The same script runs against any checkout
with the same ``train`` API, so the Trainer-based loop can be compared with the hand-written one
it replaced: ``PYTHONPATH=<old checkout>/src python bench/bench_lm_train.py``.

``--attn sdpa sdpa_unpadded`` compares attention kernels (``lm.train.attn_implementation``) back to
back: each repeat trains once with each kernel, in turn, so that a drifting machine affects both.

Usage: python bench/bench_lm_train.py [--pairs 300] [--repeats 3] [--threads 1] [--attn sdpa ...] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path


def records(n: int, seed: int = 0) -> list[dict]:
    from hetpref.lm.data.hh_rlhf import generate_demo_pairs, split_pair

    out = []
    for i, r in enumerate(generate_demo_pairs(n, seed)):
        parts = split_pair(r["chosen"], r["rejected"])
        if isinstance(parts, tuple):
            out.append({"id": f"b{i}", "prompt": parts[0], "chosen": parts[1], "rejected": parts[2]})
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=300, help="demo pairs generated (one epoch)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the workflow's lm_train uses 1)")
    ap.add_argument("--attn", nargs="+", default=["sdpa"],
                    help="attention kernels to compare (attn_implementation), interleaved per repeat")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args(argv)

    import torch

    import hetpref.lm.training.train as lm_train
    from hetpref.lm.training.config import LMTrainConfig
    from hetpref.lm.training.run import LMRun
    try:
        from hetpref.lm.training.pairs import encode_records
    except ImportError:  # an older checkout (before the trainer was split into modules): the trainer held it
        encode_records = lm_train.encode_records
    from hetpref.lm.data.tokenization import load_tokenizer, train_tiny_tokenizer

    torch.set_num_threads(args.threads)
    recs = records(args.pairs)
    tiny = dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    report = {"machine": platform.node(), "torch": torch.__version__, "threads": args.threads,
              "train_module": lm_train.__file__, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tok_dir = Path(tmp) / "tok"
        train_tiny_tokenizer([r["prompt"] + r["chosen"] + r["rejected"] for r in recs], tok_dir, vocab_size=2000)
        tok = load_tokenizer("tiny", tok_dir)
        enc = encode_records(recs, tok, 512, overlength="drop")
        keep = set(enc.ids)
        recs = [r for r in recs if r["id"] in keep]
        for objective in ("dpo", "reward"):
            rates = {a: [] for a in args.attn}
            walls = {a: [] for a in args.attn}
            for rep in range(args.repeats):
                for attn in args.attn:
                    kw = {} if attn == "sdpa" else {"attn_implementation": attn}  # an older checkout knows sdpa only
                    cfg = LMTrainConfig(lr=3e-3, checkpoint_every=0, max_length=512, **kw)
                    run = LMRun(objective=objective, dataset="anonymous", seed=rep, model="tiny", train=cfg,
                                out_dir=str(Path(tmp) / f"{objective}{rep}{attn}"), tiny=tiny,
                                tokenizer_dir=str(tok_dir), device="cpu")
                    t = time.perf_counter()
                    res = lm_train.train(run, recs, tok, progress=False)
                    walls[attn].append(time.perf_counter() - t)
                    rates[attn].append(res.provenance["tokens_per_second"])
            for attn in args.attn:
                key = objective if args.attn == ["sdpa"] else f"{objective}/{attn}"
                report["runs"][key] = {"pairs": len(recs), "steps": res.metrics["steps"], "attn_implementation": attn,
                                       "tokens": res.metrics["tokens"], "tokens_per_second": rates[attn],
                                       "median_tokens_per_second": statistics.median(rates[attn]),
                                       "wall_seconds": walls[attn],
                                       "median_wall_seconds": statistics.median(walls[attn])}
                print(f"{key}: {len(recs)} pairs, {res.metrics['steps']} steps, median "
                      f"{statistics.median(rates[attn]):,.0f} tokens/s (runs "
                      f"{', '.join(f'{r:,.0f}' for r in rates[attn])}), "
                      f"train() wall {statistics.median(walls[attn]):.2f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
