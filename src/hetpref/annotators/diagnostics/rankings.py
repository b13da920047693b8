"""NBC against the average reward on prompts with >= 3 responses (docs/spec.md §3, §6), through the
survey analysis' machinery (:func:`hetpref.pew.analysis.analyse_counts`: Luce–Shepard per-type
rewards, r̄, the population pairwise matrix, NBC under uniform μ and the min-TV flip of
:mod:`hetpref.pew.flip`), all prompts at once.

Counts: each judgement's winner counts as one choice of it by the annotator's type (a tie gives
half a choice to each response), so ``counts[prompt, type, response]`` is the type's number of wins
of the response. For best-of-k data written as pairs (the chosen response against each other) the
wins are k − 1 times the choices, and the Luce–Shepard reward log P_u(o) is the type's choice model;
for other designs it is the log of the type's win share. A type's share p(u) of a prompt is its
share of the prompt's judgements.

A prompt is analysed when it has >= 3 responses and at least two types each judged every one of
them ("compared within the type"); only those types' judgements count for it. Other prompts are
skipped and counted by reason."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hetpref.aggregation import ranking
from hetpref.pew.analysis import analyse_counts

from .coding import Coded

log = logging.getLogger(__name__)


def prompt_counts(coded: Coded) -> dict:
    """Win counts [Q, U, O] of the eligible prompts, with the codes needed to name them."""
    u_n = coded.n_types
    n_prompts = len(coded.prompt_ids)
    n_resp = np.bincount(coded.prompt_of_response, minlength=n_prompts)
    # local index of each response within its prompt
    order = np.argsort(coded.prompt_of_response, kind="stable")
    start = np.r_[0, np.cumsum(n_resp)[:-1]]
    local = np.empty(len(order), dtype=np.int64)
    local[order] = np.arange(len(order)) - start[coded.prompt_of_response[order]]
    # which (type, response) were judged: every judgement covers its pair's two responses
    ra, rb = coded.resp_a[coded.pair], coded.resp_b[coded.pair]
    covered = np.zeros((u_n, len(coded.response_ids)), dtype=bool)
    covered[coded.type, ra] = True
    covered[coded.type, rb] = True
    n_cov = np.zeros((u_n, n_prompts), dtype=np.int64)
    for u in range(u_n):                                    # one pass per type, not per judgement
        n_cov[u] = np.bincount(coded.prompt_of_response, weights=covered[u], minlength=n_prompts)
    full = (n_cov == n_resp[None, :]) & (n_resp[None, :] >= 3)   # [U, prompts]: type compared all responses
    eligible = (n_resp >= 3) & (full.sum(0) >= 2)
    skipped = {"fewer_than_3_responses": int((n_resp < 3).sum()),
               "fewer_than_2_types_comparing_all_responses": int(((n_resp >= 3) & ~eligible).sum())}
    q_of_prompt = np.full(n_prompts, -1)
    q_of_prompt[eligible] = np.arange(eligible.sum())
    qn = int(eligible.sum())
    o_max = int(n_resp[eligible].max()) if qn else 0
    counts = np.zeros((qn, u_n, o_max))
    if qn:
        prompt = coded.prompt_of_pair[coded.pair]
        q = q_of_prompt[prompt]
        keep = (q >= 0) & full[coded.type, prompt]
        win_a = np.where(coded.sign == 1, 1.0, np.where(coded.sign == 0, 0.5, 0.0))[keep]
        q, u = q[keep], coded.type[keep]
        base = (q * u_n + u) * o_max
        size = qn * u_n * o_max
        flat = (np.bincount(base + local[ra[keep]], weights=win_a, minlength=size)
                + np.bincount(base + local[rb[keep]], weights=1.0 - win_a, minlength=size))
        counts = flat.reshape(qn, u_n, o_max)
    prompts = np.flatnonzero(eligible)
    # response codes of each eligible prompt in local order, padded with -1
    resp_table = np.full((qn, o_max), -1)
    sel = q_of_prompt[coded.prompt_of_response] >= 0
    resp_table[q_of_prompt[coded.prompt_of_response[sel]], local[sel]] = np.flatnonzero(sel)
    return {"counts": counts, "n_options": n_resp[eligible], "prompts": prompts, "responses": resp_table,
            "types_used": full[:, eligible].T, "skipped": skipped}


def analyse_by_size(counts: np.ndarray, n_options: np.ndarray, pseudocount: float) -> dict:
    """:func:`~hetpref.pew.analysis.analyse_counts` on the prompts of each response count at once
    (one batch per distinct count, so one prompt with many responses does not pad every other
    prompt's [N, N] pairwise matrix); r̄ and NBC come back padded to the widest prompt."""
    qn, o_max = len(n_options), counts.shape[-1]
    out = {"rbar": np.zeros((qn, o_max)), "nbc": np.zeros((qn, o_max))}
    for key in ("rbar_top", "nbc_top"):
        out[key] = np.zeros(qn, dtype=np.int64)
    for key in ("min_tv", "top_min_tv"):
        out[key] = np.zeros(qn)
    for n in np.unique(n_options):
        idx = np.flatnonzero(n_options == n)
        res = analyse_counts(counts[idx, :, :n], n_options[idx], pseudocount=pseudocount)
        for key in ("rbar", "nbc"):
            out[key][idx, :n] = res[key]
        for key in ("rbar_top", "nbc_top", "min_tv", "top_min_tv"):
            out[key][idx] = res[key]
    return out


def nbc_vs_average(coded: Coded, pseudocount: float = 0.5) -> dict:
    """Per-prompt table (r̄ and NBC rankings, whether the top or the ranking differs, min-TV) and a
    summary. ``pseudocount`` is Luce–Shepard's smoothing (see :mod:`hetpref.pew.analysis`)."""
    pc = prompt_counts(coded)
    for reason, n in pc["skipped"].items():
        if n:
            log.info("NBC vs r̄: %d prompt(s) skipped: %s", n, reason.replace("_", " "))
    qn = len(pc["prompts"])
    if qn == 0:
        return {"summary": {"prompts_analysed": 0, "skipped": pc["skipped"], "share_top_differs": float("nan"),
                            "share_ranking_differs": float("nan"), "share_can_change": float("nan"),
                            "median_min_tv": float("nan"), "median_top_min_tv": float("nan")},
                "prompts": pd.DataFrame(columns=PROMPT_COLUMNS)}
    res = analyse_by_size(pc["counts"], pc["n_options"], pseudocount)
    valid = np.arange(pc["counts"].shape[-1])[None, :] < pc["n_options"][:, None]
    rank_r = ranking(np.where(valid, res["rbar"], -np.inf))
    rank_n = ranking(np.where(valid, res["nbc"], -np.inf))
    top_differs = res["rbar_top"] != res["nbc_top"]
    ranking_differs = (rank_r != rank_n).any(1)
    names = np.array([r.split("\x1f", 1)[1] for r in coded.response_ids], dtype=object)
    resp = pc["responses"]
    rows = np.arange(qn)
    table = pd.DataFrame({
        "prompt_id": coded.prompt_ids[pc["prompts"]],
        "n_responses": pc["n_options"],
        "types": [";".join(np.asarray(coded.type_names)[m]) for m in pc["types_used"]],
        "rbar_top": names[resp[rows, res["rbar_top"]]],
        "nbc_top": names[resp[rows, res["nbc_top"]]],
        "top_differs": top_differs,
        "ranking_differs": ranking_differs,
        "rbar_ranking": [">".join(names[resp[i, rank_r[i, :n]]]) for i, n in enumerate(pc["n_options"])],
        "nbc_ranking": [">".join(names[resp[i, rank_n[i, :n]]]) for i, n in enumerate(pc["n_options"])],
        "min_tv": res["min_tv"],
        "top_min_tv": res["top_min_tv"],
    }, columns=PROMPT_COLUMNS)
    changeable = np.isfinite(res["min_tv"])
    top_changeable = np.isfinite(res["top_min_tv"])
    summary = {
        "prompts_analysed": int(qn), "skipped": pc["skipped"],
        "top_differs": int(top_differs.sum()), "share_top_differs": float(top_differs.mean()),
        "ranking_differs": int(ranking_differs.sum()), "share_ranking_differs": float(ranking_differs.mean()),
        "share_can_change": float(changeable.mean()),
        "median_min_tv": float(np.median(res["min_tv"][changeable])) if changeable.any() else float("nan"),
        "median_top_min_tv": (float(np.median(res["top_min_tv"][top_changeable])) if top_changeable.any()
                              else float("nan")),
        "pseudocount": pseudocount,
    }
    return {"summary": summary, "prompts": table}


PROMPT_COLUMNS = ["prompt_id", "n_responses", "types", "rbar_top", "nbc_top", "top_differs", "ranking_differs",
                  "rbar_ranking", "nbc_ranking", "min_tv", "top_min_tv"]
