"""Benchmark of the synthetic stage (issue: performance targets of §7.2).

1. The three headline runs at paper scale (500,000 preferences, batch 1024, 10,000 steps):
   DPO, corrected DPO at α = 1 (its joint-likelihood model included) and the consistent loss,
   each in its own process with one torch thread, two at a time (2 cores) — wall clock for all
   three, repeated; medians reported.
2. The whole synthetic stage from the default config.yaml (oracles, every method, α grid,
   sweep, figures) with `snakemake --cores 2` in a fresh directory, once.

Usage: python bench/bench_synthetic.py [--repeats 3] [--skip-stage]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = r"""
import sys, time, torch
torch.set_num_threads(1)
from hetpref.synthetic.data import sample_pairs
from hetpref.synthetic.environment import SyntheticEnvironment
from hetpref.synthetic.train import *
env = SyntheticEnvironment(); R = torch.tensor(env.rewards(), dtype=torch.float32)
pairs = sample_pairs(500_000, 40, 40, 0); cfg = TrainConfig(policy="tabular")
t = time.perf_counter()
which = sys.argv[1]
if which == "dpo":
    train_dpo(R, pairs, 0, cfg)
elif which == "consistent":
    train_consistent(R, pairs, 0, cfg)
else:
    corr = CorrectionConfig(alpha=1.0)
    jm, _, _ = train_joint_model(R, pairs, 0, cfg, corr)
    train_corrected_dpo(R, pairs, 0, cfg, corr, jm)
print(f"{which} {time.perf_counter() - t:.2f}")
"""


def one_process(which: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, which], check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def headline(repeats: int) -> list[float]:
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        with cf.ThreadPoolExecutor(max_workers=2) as pool:  # two processes at a time = 2 cores
            list(pool.map(one_process, ["corrected_dpo", "dpo", "consistent"]))
        walls.append(time.perf_counter() - t)
    return walls


def whole_stage() -> float:
    work = Path(tempfile.mkdtemp(prefix="hetpref-bench-"))
    try:
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
                        "--configfile", str(ROOT / "config.yaml"), "--directory", str(work), "--cores", "2",
                        "--quiet", "all"], check=True, cwd=ROOT)
        return time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-stage", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    walls = headline(args.repeats)
    print(f"DPO + corrected DPO (α=1, with joint model) + consistent, 2 at a time: "
          f"median {statistics.median(walls):.1f} s wall over {len(walls)} repeats {[round(w, 1) for w in walls]}")
    for which in ("dpo", "corrected_dpo", "consistent"):
        print(f"  {which} alone (process incl. imports): {one_process(which):.1f} s")
    if not args.skip_stage:
        print(f"whole synthetic stage (snakemake --cores 2, default config): {whole_stage():.1f} s wall")


if __name__ == "__main__":
    main()
