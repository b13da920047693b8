"""Benchmark of the synthetic stage (issue: performance targets of §7.2).

1. The three headline runs at paper scale (500,000 preferences, batch 1024, 10,000 steps):
   DPO, corrected DPO at α = 1 (its joint-likelihood model included) and the consistent loss,
   each in its own process with one torch thread, two at a time (2 cores) — wall clock for all
   three, repeated; medians reported.
2. The whole synthetic stage (`snakemake --cores 2 synthetic`: oracles, every method, α grid with
   both variance arms, sample-size sweep, heterogeneity sweep, exact minimisers on the data,
   tables, checks, figures) in a fresh directory, once, from the default config.yaml and — with
   --paper-stage — from configs/paper.yaml. Reported: wall clock, the summed CPU time of the jobs
   (from Snakemake's benchmark files; less sensitive to other load than wall time) and the load
   average around the run, since these machines are shared.

Usage: python bench/bench_synthetic.py [--repeats 3] [--skip-stage] [--paper-stage] [--skip-headline]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
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
from hetpref.synthetic.config import CorrectionConfig, TrainConfig
from hetpref.synthetic.train import train_consistent, train_corrected_dpo, train_dpo
from hetpref.synthetic.variance import train_joint_model
env = SyntheticEnvironment(); R = torch.tensor(env.rewards(), dtype=torch.float32)
pairs = sample_pairs(500_000, 40, 40, 0); cfg = TrainConfig(policy="tabular")
t = time.perf_counter()
which = sys.argv[1]
if which == "dpo":
    train_dpo(R, pairs, 0, cfg)
elif which == "consistent":
    train_consistent(R, pairs, 0, cfg)
else:
    corr = CorrectionConfig(alpha=1.0)  # the default estimator: offset joint model, early stopping
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


def whole_stage(config: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="hetpref-bench-"))
    try:
        load_before = os.getloadavg()
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
                        "--configfile", str(config), "--directory", str(work), "--cores", "2",
                        "synthetic", "--quiet"], check=True, cwd=ROOT)
        wall = time.perf_counter() - t
        cpu = job_wall = 0.0
        jobs = 0
        for tsv in (work / "benchmarks").rglob("*.tsv"):
            with open(tsv) as f:
                row = next(csv.DictReader(f, delimiter="\t"))
            cpu += float(row["cpu_time"])
            job_wall += float(row["s"])
            jobs += 1
        return {"wall": wall, "cpu": cpu, "job_wall": job_wall, "jobs": jobs, "load_before": load_before,
                "load_after": os.getloadavg()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report_stage(name: str, r: dict) -> None:
    print(f"whole synthetic stage, {name} (snakemake --cores 2 synthetic): {r['wall']:.1f} s wall; "
          f"{r['jobs']} benchmarked jobs: {r['cpu']:.1f} s CPU in total, {r['job_wall']:.1f} s summed job wall; "
          f"load average before {r['load_before'][0]:.2f}, after {r['load_after'][0]:.2f} (1 min)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-headline", action="store_true", help="skip the three headline runs")
    ap.add_argument("--skip-stage", action="store_true", help="skip the default config's whole stage")
    ap.add_argument("--paper-stage", action="store_true", help="also time the stage with configs/paper.yaml")
    args = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    if not args.skip_headline:
        walls = headline(args.repeats)
        print(f"DPO + corrected DPO (α=1, with joint model) + consistent, 2 at a time: "
              f"median {statistics.median(walls):.1f} s wall over {len(walls)} repeats {[round(w, 1) for w in walls]}")
        for which in ("dpo", "corrected_dpo", "consistent"):
            print(f"  {which} alone (process incl. imports): {one_process(which):.1f} s")
    if not args.skip_stage:
        report_stage("default config.yaml", whole_stage(ROOT / "config.yaml"))
    if args.paper_stage:
        report_stage("configs/paper.yaml", whole_stage(ROOT / "configs" / "paper.yaml"))


if __name__ == "__main__":
    main()
