"""Exact length oracle of the LM experiment (beyond the paper; docs/spec.md §8 with §3's "exact
oracles beside estimates").

Every reward of §8 depends on a response only through the token count ``n`` of prompt +
response, so the best any learned scorer can do on these data is bounded by the best
*length-only* scorer. Under a labelling with exact label law ``P(a ≻ b)`` (see
:func:`hetpref.lm.data.relabel.label_probability`), the population maximum-likelihood BT scorer over
lengths — one free value ``s(n)`` per distinct length of the training split — solves the convex
problem

    min_s  Σ_{pairs (a, b)} w_ab [ −p_ab log σ(s_a − s_b) − (1 − p_ab) log σ(s_b − s_a) ]

over the distinct length pairs of the training split (``w_ab`` their counts, times the keep
probability ``Πσ(Δ_u) + Πσ(−Δ_u)`` for unanimous_filtered). This is the limit of the paper's
reward model / DPO with infinite data and a length-only function class. Its agreement with
``r̄``'s order on the test split is the ceiling reported per labelling: 100% for the labellings
that are a BT in ``r̄`` (unanimous, unanimous_filtered, average: the optimum is ``s = 3r̄`` or
``r̄``), below 100% for anonymous, whose mixture ``mean_u σ(Δ_u)`` is not a BT (docs/spec.md §1, §3).

Solved by Newton's method in float64 with one length pinned to 0 per connected component of the
comparison graph (the scorer is defined up to a constant there), with a backtracking line search.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

from ..data.relabel import LABELLINGS, TIE_TOL, average_reward, label_probability


@dataclass
class LengthScorer:
    """A fitted scorer ``s(n)`` on the training lengths and how the fit went."""

    labelling: str
    lengths: np.ndarray
    scores: np.ndarray
    info: dict = field(default_factory=dict)

    def __call__(self, n) -> np.ndarray:
        """``s(n)``; lengths never seen in training are linearly interpolated between neighbours
        (clamped at the ends) — counted by :func:`order_agreement`."""
        n = np.asarray(n, dtype=np.float64)
        if not len(self.lengths):  # no informative training pair: every length ties
            return np.zeros_like(n)
        return np.interp(n, self.lengths.astype(np.float64), self.scores)


def distinct_length_pairs(n_a, n_b):
    """(lengths, i, j, counts): the distinct unordered length pairs as indices ``i ≤ j`` into the
    sorted distinct ``lengths``, with their multiplicities. Pairs of equal length are kept: they
    do not move ``s`` (their difference is always 0) but count in the population likelihood."""
    n_a, n_b = np.asarray(n_a, np.int64), np.asarray(n_b, np.int64)
    lengths = np.unique(np.concatenate([n_a, n_b]))
    ia, ib = np.searchsorted(lengths, n_a), np.searchsorted(lengths, n_b)
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    L = len(lengths)
    code, counts = np.unique(lo * L + hi, return_counts=True)
    return lengths, code // L, code % L, counts.astype(np.float64)


def _objective(s, i, j, p, w):
    d = s[i] - s[j]
    return float(-(w * (p * log_expit(d) + (1 - p) * log_expit(-d))).sum())


def fit_length_scorer(n_a, n_b, labelling: str, tol: float = 1e-11, max_iter: int = 200) -> LengthScorer:
    """The population maximum-likelihood length scorer under ``labelling`` (module docstring) on
    the training pairs ``(n_a, n_b)`` (orientation irrelevant). The objective is normalised by the
    total weight; Newton stops when the largest gradient entry is below ``tol``."""
    lengths, i, j, counts = distinct_length_pairs(n_a, n_b)
    p, keep_prob = label_probability(labelling, lengths[i], lengths[j])
    w = counts * keep_prob
    total = w.sum()
    w = w / total if total > 0 else w
    # Equal-length pairs never move s (their difference is 0) and their labels are fair coins:
    # they add w·log 2 to the objective and to the label entropy alike. A length met only in such
    # pairs carries no information, so it is left to interpolation like an unseen one.
    equal = i == j
    w_equal = float(w[equal].sum())
    i, j, p, w = i[~equal], j[~equal], p[~equal], w[~equal]
    informative = np.unique(np.concatenate([i, j]))
    lengths = lengths[informative]
    i, j = np.searchsorted(informative, i), np.searchsorted(informative, j)
    L = len(lengths)

    # one pinned length (the most weighted) per connected component of the comparison graph
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(L, L))
    n_comp, comp = connected_components(graph, directed=False)
    node_w = np.bincount(i, w, L) + np.bincount(j, w, L)
    pinned = np.zeros(L, bool)
    for c in range(n_comp):
        members = np.flatnonzero(comp == c)
        pinned[members[np.argmax(node_w[members])]] = True
    free = np.flatnonzero(~pinned)

    s = np.zeros(L)
    f = _objective(s, i, j, p, w)
    it, grad_max = 0, 0.0
    # nothing to fit without a free length
    for it in range(1, max_iter + 1 if free.size else 1):  # noqa: B007 (it: the iteration count, read after the loop)
        d = s[i] - s[j]
        sig = expit(d)
        gd = w * (sig - p)  # ∂f/∂d
        g = np.bincount(i, gd, L) - np.bincount(j, gd, L)
        grad_max = float(np.abs(g[free]).max()) if free.size else 0.0
        if grad_max < tol:
            break
        hd = w * sig * (1 - sig)
        H = np.zeros((L, L))
        np.add.at(H, (i, i), hd)
        np.add.at(H, (j, j), hd)
        np.add.at(H, (i, j), -hd)
        np.add.at(H, (j, i), -hd)
        step = np.zeros(L)
        step[free] = np.linalg.solve(H[np.ix_(free, free)], -g[free])
        t = 1.0
        while True:  # backtracking (Armijo): Newton's full step is taken near the optimum
            f_new = _objective(s + t * step, i, j, p, w)
            if f_new <= f + 1e-4 * t * float(g @ step) or t < 1e-12:
                break
            t *= 0.5
        s, f = s + t * step, f_new
    # entropy of the exact labels: f − entropy is the KL to the best length-BT (0 iff it is exact)
    pc = np.clip(p, 1e-300, 1 - 1e-16)
    entropy = float(-(w * (pc * np.log(pc) + (1 - pc) * np.log1p(-pc))).sum()) + w_equal * np.log(2)
    f += w_equal * np.log(2)
    info = {"cross_entropy": f, "label_entropy": entropy, "kl": f - entropy, "iterations": it,
            "grad_max": grad_max, "converged": bool(grad_max < tol), "n_lengths": int(L),
            "n_length_pairs": int(len(i)), "n_components": int(n_comp),
            "kept_share": float(total / counts.sum()) if counts.sum() else None}
    return LengthScorer(labelling, lengths, s, info)


def order_agreement(scorer, n_a, n_b) -> dict:
    """Share of test pairs whose scorer order agrees with ``r̄``'s order. Pairs tied in ``r̄``
    (|Δr̄| ≤ TIE_TOL) are left out, as in the test dataset; ties in the scorer count as wrong."""
    n_a, n_b = np.asarray(n_a), np.asarray(n_b)
    dr = average_reward(n_a) - average_reward(n_b)
    keep = np.abs(dr) > TIE_TOL
    ds = scorer(n_a[keep]) - scorer(n_b[keep])
    agree = (np.sign(ds) == np.sign(dr[keep])) & (ds != 0)
    seen = np.isin(n_a[keep], scorer.lengths) & np.isin(n_b[keep], scorer.lengths)
    return {"agreement": float(agree.mean()) if agree.size else None, "n_test": int(keep.sum()),
            "n_test_ties_dropped": int((~keep).sum()), "n_test_unseen_length": int((~seen).sum())}



def oracle_table(train_a, train_b, test_a, test_b, labellings=LABELLINGS, tol: float = 1e-11):
    """(table, scorers): one row per labelling with the test agreement ceiling and the fit's
    diagnostics (:func:`fit_length_scorer`, :func:`order_agreement`)."""
    import pandas as pd

    rows, scorers = [], {}
    for lab in labellings:
        sc = fit_length_scorer(train_a, train_b, lab, tol=tol)
        scorers[lab] = sc
        rows.append({"labelling": lab, **order_agreement(sc, test_a, test_b), **sc.info,
                     "n_train": int(len(train_a))})
    return pd.DataFrame(rows), scorers


def scores_table(scorers: dict):
    """Long table (labelling, n, score) of fitted scorers, each shifted to mean 0."""
    import pandas as pd

    return pd.concat([pd.DataFrame({"labelling": lab, "n": sc.lengths, "score": sc.scores - sc.scores.mean()})
                      for lab, sc in scorers.items()], ignore_index=True)


# ----------------------------------------------------------------------------- DPO's length prior


def dpo_length_prior_bound(test_a, test_b, nats_per_token=(1.0, 2.0, 4.0), eos_ranges=(10.0, 20.0, 50.0, 100.0)):
    """How far direct alignment with a uniform reference can move from "the shorter response wins".

    With a uniform reference DPO's induced reward is ``log π(y|x)`` itself (docs/spec.md §4, §8). On
    text it cannot predict, a causal LM pays about ``H`` nats per response token (its per-token
    cross-entropy, never below the text's entropy rate), so
    ``log π(y|x) ≈ −H·|y| + g(y)``, where ``g`` collects what training can shape at no cost in
    content: above all the log-probability of ending (eos) where it ends, ``g ≤ 0``. If ``g`` spans
    at most ``G`` nats, a test pair whose responses differ by ``|Δ|`` tokens can be ordered against
    the length prior only when ``H·|Δ| ≤ G``; every other pair keeps "shorter wins". The upper
    bound on agreement with r̄ is then ``share(flippable) + agreement of shorter-wins on the rest``
    (content noise ignored: a model of the mechanism, not a theorem about every network).

    ``test_a``/``test_b``: token counts of the r̄-preferred and the other response's sequences (the
    prompt is shared, so differences are response-length differences). Returns a DataFrame with one
    row per (H, G): ``flippable_share``, ``upper_bound``, and ``shorter_wins`` (the length prior's
    own agreement)."""
    import pandas as pd

    a, b = np.asarray(test_a, np.float64), np.asarray(test_b, np.float64)
    dr = average_reward(a) - average_reward(b)
    keep = np.abs(dr) > TIE_TOL
    a, b, dr = a[keep], b[keep], dr[keep]
    shorter_right = np.sign(b - a) == np.sign(dr)  # a pair of equal lengths: the prior cannot order it
    rows = []
    for h in nats_per_token:
        for g in eos_ranges:
            flippable = h * np.abs(a - b) <= g
            rows.append({"nats_per_token": float(h), "eos_range_nats": float(g), "n_test": int(keep.sum()),
                         "shorter_wins": float(shorter_right.mean()) if keep.any() else None,
                         "flippable_share": float(flippable.mean()) if keep.any() else None,
                         "upper_bound": float(np.where(flippable, True, shorter_right).mean()) if keep.any() else None})
    return pd.DataFrame(rows)
