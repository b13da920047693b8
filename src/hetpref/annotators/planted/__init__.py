"""Annotators of known types from the synthetic environment's rewards, written in the adapters' real
schemas, and the check that the report recovers the planted quantities (docs/spec.md §7).

:mod:`.design` samples and computes the planted quantities exactly; :mod:`.writers` writes each
schema; this module compares a report with them (:func:`check`, :func:`check_unanimity`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..adapters import GENERIC_FIXTURE_OPTIONS
from .design import (
    PlantedDesign,
    _prompt_text,
    all_present_bound,
    choice_probabilities,
    expected_counts,
    planted_truth,
    prompt_ids,
    sample,
    unanimity_counts_exact,
    unanimity_probability,
    unanimity_tolerance,
)
from .writers import write_collective_alignment, write_community_alignment, write_generic, write_multipref


def recovered(result: dict, table) -> dict:
    """The report's per-prompt r̄ and NBC tops, keyed by prompt text and named by response text
    (adapters give their own ids), and its unanimous share among pairs judged by every type."""
    f = table.frame
    sides = [f[["prompt_id", f"response_{x}_id", f"response_{x}"]].set_axis(["p", "r", "text"], axis=1) for x in "ab"]
    resp = pd.concat(sides).assign(p=lambda d: d["p"].astype(str)).drop_duplicates(["p", "r"])
    text = dict(zip(zip(resp["p"], resp["r"]), resp["text"]))
    first = f.drop_duplicates("prompt_id")
    prompt = dict(zip(first["prompt_id"].astype(str), first["prompt"]))
    rows = result["nbc_vs_average"]["prompts"]
    out = {key: {prompt[p]: text[(p, t)] for p, t in zip(rows["prompt_id"], rows[key])}
           for key in ("rbar_top", "nbc_top")}
    out["top_differs"] = {p: out["rbar_top"][p] != out["nbc_top"][p] for p in out["rbar_top"]}
    by_k = result["feasibility"]["unanimous_by_types"]
    out["unanimous_share"] = by_k[-1]["share"]
    out["pairs_with_every_type"] = by_k[-1]["pairs"]
    return out


def truth_by_text(design: PlantedDesign, truth: dict) -> dict:
    """:func:`planted_truth`'s per-prompt entries keyed by prompt text, responses named by text."""
    name = {pid: _prompt_text(p, design.contexts[p]) for p, pid in enumerate(prompt_ids(design))}
    out = dict(truth)
    for key in ("rbar_top", "nbc_top", "true_rbar_top", "true_nbc_top"):
        out[key] = {name[p]: f"response {v}" for p, v in truth[key].items()}
    out["top_differs"] = {name[p]: v for p, v in truth["top_differs"].items()}
    return out


def check(design: PlantedDesign, result: dict, table) -> list[str]:
    """Every planted quantity the report misses (empty when it recovers them all)."""
    truth = truth_by_text(design, planted_truth(design))
    got = recovered(result, table)
    bad = []
    n_pairs = len(design.contexts) * len(design.offsets[0]) * (len(design.offsets[0]) - 1) // 2
    if got["pairs_with_every_type"] != n_pairs:
        bad.append(f"pairs judged by every type: {got['pairs_with_every_type']}, planted {n_pairs}")
    if abs(got["unanimous_share"] - truth["unanimous_share"]) > truth["unanimous_tolerance"]:
        bad.append(f"unanimous share {got['unanimous_share']:.4f}, planted {truth['unanimous_share']:.4f} "
                   f"± {truth['unanimous_tolerance']:.4f}")
    for key in ("rbar_top", "nbc_top", "top_differs"):
        for p, v in truth[key].items():
            if got[key].get(p) != v:
                bad.append(f"{key} of {p!r}: {got[key].get(p)!r}, planted {v!r}")
    return bad


#: Designs whose planted r̄ and NBC tops the estimator recovers at their sample size (found by a
#: search over response sets, then re-simulated on fresh seeds: each prompt's tops are recovered in
#: 97-100 % of seeds, all eight at once in about 90 %; the planted test uses seed 0, where they are;
#: collective-alignment: 12 of 12 seeds through the adapter at 400 annotators per type). MultiPref and
#: Community Alignment have four prompts with r̄'s top != NBC's top, then four where they agree.
#: Rankings written as "chosen > the rest tied" flatten the types' win shares, and no design with
#: robust disagreements was found there: collective-alignment's planted prompts all agree (the
#: check then asserts that none differs).
DESIGNS = {
    "multipref": PlantedDesign(
        contexts=(26, 39, 9, 38, 2, 16, 9, 21),
        offsets=((-10, 3, 4, 12), (-10, 3, 8, 16), (-10, 3, 12, 16), (-10, 4, 12, 16),
                 (1, 2, 3, 10), (1, 2, 4, 10), (1, 2, 10, 16), (-10, -4, -3, -1)),
        types=(0, 2), type_names=("normal", "expert"), annotators_per_type=1000, tie=0.15),
    "community_alignment": PlantedDesign(
        contexts=(39, 13, 6, 17, 24, 10, 22, 32),
        offsets=((-13, -10, 4, 16), (-16, -4, 10, 13), (-13, -10, 3, 16), (-16, -2, 10, 13),
                 (-16, 10, 15, 16), (-15, 10, 15, 16), (-16, 9, 15, 16), (-16, -9, 15, 16)),
        annotators_per_type=1000),
    "collective_alignment": PlantedDesign(
        contexts=(6, 1, 29, 14), offsets=((-16, -15, -14, 6), (-16, -15, -14, 5), (-16, -15, -14, 5), (-5, 14, 15, 16)),
        annotators_per_type=400, rest_tied=True),
}
DESIGNS["generic"] = DESIGNS["multipref"]
WRITERS = {"multipref": write_multipref, "community_alignment": write_community_alignment,
           "collective_alignment": write_collective_alignment, "generic": write_generic}
TYPE_ATTRIBUTE = {"multipref": "worker_type", "community_alignment": "annotator_political",
                  "collective_alignment": "political", "generic": "rater_group"}
FILE_NAME = {"multipref": "multipref.jsonl", "community_alignment": "community_alignment.csv",
             "collective_alignment": "collective_alignment", "generic": "judgements.csv"}
#: The options each adapter reads planted data with (the generic adapter needs its column mapping).
READ_OPTIONS = {"generic": GENERIC_FIXTURE_OPTIONS}


__all__ = ["DESIGNS", "FILE_NAME", "READ_OPTIONS", "TYPE_ATTRIBUTE", "WRITERS", "PlantedDesign", "all_present_bound",
           "check", "check_unanimity", "choice_probabilities", "expected_counts", "planted_truth", "prompt_ids",
           "recovered", "sample", "unanimity_counts_exact", "unanimity_design", "unanimity_probability",
           "unanimity_tolerance", "write_collective_alignment", "write_community_alignment", "write_generic",
           "write_multipref"]


def unanimity_design(name: str, prompts: int = 300, seed: int = 0) -> PlantedDesign:
    """Many prompts with one annotator per type each, for the exact unanimity counts
    (:func:`~.design.unanimity_counts_exact`): the types and ties of ``DESIGNS[name]``, with ties at
    0.3 where the schema has them (so a mis-oriented tie moves the counts far)."""
    base = DESIGNS[name]
    rng = np.random.default_rng(seed)
    offsets = np.sort(np.stack([rng.choice(np.arange(-16, 17), 4, replace=False) for _ in range(prompts)]), 1)
    return PlantedDesign(contexts=tuple(int(x) for x in rng.integers(0, base.env.n, prompts)),
                         offsets=tuple(map(tuple, offsets.tolist())), types=base.types, type_names=base.type_names,
                         annotators_per_type=1, tie=0.3 if base.tie else 0.0, rest_tied=base.rest_tied, seed=seed)


def check_unanimity(design: PlantedDesign, result: dict, z: float = 4.0) -> list[str]:
    """The report's pairs judged by every type and unanimous pairs among them, against their exact
    means, within ``z`` exact standard deviations (prompts are independent: a sum of independent terms)."""
    exact = unanimity_counts_exact(design)
    last = result["feasibility"]["unanimous_by_types"][-1]
    bad = []
    for key, got in (("judged_by_every_type", last["pairs"]), ("unanimous", last["unanimous"])):
        mean, var = exact[key]
        var = max(var, 0.0)                       # rounding: a count that cannot vary
        if abs(got - mean) > z * np.sqrt(var):
            bad.append(f"{key}: {got}, planted {mean:.1f} ± {z * np.sqrt(var):.1f}")
    return bad
