"""Benchmark of the LM relabelling (issue: LM-data layer; target ≤ 30 s for 160,000 pairs on 2
cores, tokenisation excluded).

Generates HH-RLHF-format demo data (4 subsets × 40,000 train pairs = 160,000, and 4 × 2,125 =
8,500 test pairs, like the real release), reads and parses it through the same reader as real
data, counts tokens (the tiny byte-level BPE of the workflow, or ``--counts words`` for a quick
whitespace proxy: the relabel time depends only on how many pairs survive the 512 filter), then
times the relabelling proper:

- labels: every dataset (anonymous, unanimous, unanimous_filtered, per_type, average on train;
  test on test) — rewards, counter-based RNG, BT draws, filters;
- labels + JSONL + manifests: the same plus writing every dataset and its manifest (sha256
  included), i.e. everything the workflow does after tokenisation.

Usage: python bench/bench_lm_relabel.py [--pairs 160000] [--repeats 3] [--counts tiny|words]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("RAYON_NUM_THREADS", "2")  # the tokenizer's pool: 2 cores, as the target says

from hetpref.lm.data.hh_rlhf import SUBSETS, read_pairs, write_demo  # noqa: E402 (after RAYON_NUM_THREADS is set)
from hetpref.lm.data.relabel import DATASETS, encode_table, relabel, write_dataset  # noqa: E402 (after RAYON_NUM_THREADS)


def word_counts(table):
    """Whitespace-word proxy of token counts (×1.4, about the tiny BPE's tokens per word)."""
    def n(texts):
        return np.rint(1.4 * np.array([t.count(" ") + t.count("\n") + 1 for t in texts])).astype(np.int64)
    out = table.take(np.arange(len(table)))
    out.n_chosen, out.n_rejected = n(table.texts("chosen")), n(table.texts("rejected"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=160_000, help="training pairs in total (split over 4 subsets)")
    ap.add_argument("--test-pairs", type=int, default=8_500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--counts", choices=("tiny", "words"), default="tiny")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        files = write_demo(tmp / "demo", seed=0, subsets=SUBSETS,
                           n_pairs={"train": args.pairs // len(SUBSETS), "test": args.test_pairs // len(SUBSETS)})
        print(f"generate demo data: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        tables = {s: read_pairs(files, s) for s in ("train", "test")}
        print(f"read + parse: {time.perf_counter() - t:.1f} s ({len(tables['train'])} train, "
              f"{len(tables['test'])} test pairs)")

        t = time.perf_counter()
        if args.counts == "tiny":
            from hetpref.lm.data.tokenization import count_pair_tokens, tokenizer_training_texts, train_tiny_tokenizer
            tok = train_tiny_tokenizer(tokenizer_training_texts(tables["train"], 20000), tmp / "tok", 2000)
            tables = {s: count_pair_tokens(tok, tb) for s, tb in tables.items()}
        else:
            tables = {s: word_counts(tb) for s, tb in tables.items()}
        print(f"token counts ({args.counts}; excluded from the figure): {time.perf_counter() - t:.1f} s")
        from hetpref.lm.data.tokenization import filter_max_length
        tables = {s: filter_max_length(tb) for s, tb in tables.items()}
        for s, tb in tables.items():
            print(f"  {s}: {tb.stages[-1]['n_in']} → {len(tb)} pairs ≤ 512 tokens")

        labels_only, with_write = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            labelled = {k: relabel(k, tables["test" if k == "test" else "train"], args.seed) for k in DATASETS}
            labels_only.append(time.perf_counter() - t)

            t = time.perf_counter()
            enc = {s: encode_table(tb) for s, tb in tables.items()}
            sizes = {}
            for k, lab in labelled.items():
                split = "test" if k == "test" else "train"
                m = write_dataset(tmp / "out" / f"{k}.jsonl", lab, tables[split], encoded=enc[split])
                sizes[k] = (m["size"], m["bytes"])
            with_write.append(labels_only[-1] + time.perf_counter() - t)
        for k, (n, b) in sizes.items():
            print(f"  {k}: {n} records, {b / 1e6:.0f} MB")
        print(f"relabel, labels only: median {statistics.median(labels_only):.2f} s "
              f"({', '.join(f'{x:.2f}' for x in labels_only)})")
        print(f"relabel {len(tables['train'])} train pairs (+{len(tables['test'])} test), labels + JSONL + "
              f"manifests: median {statistics.median(with_write):.2f} s "
              f"({', '.join(f'{x:.2f}' for x in with_write)}); target ≤ 30 s")


if __name__ == "__main__":
    main()
