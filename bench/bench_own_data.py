"""Benchmark of ``hetpref inspect`` at Community Alignment's scale (target < 30 s on 2 cores).

Generates planted annotators (:mod:`hetpref.annotators.planted`, vectorised) in the Community
Alignment schema: ``--prompts`` prompts of the synthetic environment with 4 responses each,
``--per-type`` conversations per type and prompt, three types, ``--annotators`` annotator ids
(each does several conversations); best-of-4 gives 3 judgements per conversation. Then times, on
the CSV: the adapter (read + validate), the three views, the diagnostics (feasibility counts,
Krippendorff's alpha, NBC vs r̄ with the min-TV flip) and the report (markdown, JSON, figures).
Reports the median of ``--repeats`` runs and the process' peak resident memory.

Usage: python bench/bench_own_data.py [--prompts 2000] [--per-type 12] [--annotators 3500] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--per-type", type=int, default=12)
    ap.add_argument("--annotators", type=int, default=3500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from hetpref.annotators import planted, views
    from hetpref.annotators.adapters import read
    from hetpref.annotators.diagnostics import inspect_table
    from hetpref.annotators.report import write_report

    rng = np.random.default_rng(args.seed)
    offsets = np.sort(np.stack([rng.choice(np.arange(-16, 17), 4, replace=False) for _ in range(args.prompts)]), 1)
    design = planted.PlantedDesign(contexts=tuple(int(x) for x in rng.integers(0, 40, args.prompts)),
                                   offsets=tuple(map(tuple, offsets.tolist())), annotators_per_type=args.per_type,
                                   seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = planted.write_community_alignment(design, Path(tmp) / "community_alignment.csv",
                                                 annotators_per_type=args.annotators // 3)
        t_gen = time.perf_counter() - t0
        stages = {"adapter": [], "views": [], "diagnostics": [], "report": [], "total": []}
        for rep in range(args.repeats):
            t = [time.perf_counter()]
            table = read("community_alignment", path)
            t.append(time.perf_counter())
            views.anonymous_view(table)
            views.same_annotator_pairs(table)
            views.per_type_view(table, "annotator_political")
            t.append(time.perf_counter())
            result = inspect_table(table, "annotator_political", with_views=False)
            t.append(time.perf_counter())
            write_report(result, Path(tmp) / f"out{rep}")
            t.append(time.perf_counter())
            for key, a, b in zip(("adapter", "views", "diagnostics", "report"), t, t[1:]):
                stages[key].append(b - a)
            stages["total"].append(t[-1] - t[0])
        fe = result["feasibility"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024          # KiB on Linux
    print(f"python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} cpus visible")
    print(f"data: {fe['judgements']:,} judgements, {fe['pairs']:,} pairs, {fe['prompts']:,} prompts, "
          f"{fe['annotators']:,} annotators ({len(fe['types'])} types); generated and written in {t_gen:.1f} s")
    print(f"NBC vs r̄: {result['nbc_vs_average']['summary']['prompts_analysed']:,} prompts analysed")
    for key, vals in stages.items():
        print(f"{key:12s} median {statistics.median(vals):6.2f} s   runs {', '.join(f'{v:.2f}' for v in vals)}")
    print(f"peak resident memory {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
