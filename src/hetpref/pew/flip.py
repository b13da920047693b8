"""The min-TV flip problem of Appendix E (docs/spec.md §6), solved exactly and vectorised.

For options k1 ranked above k2 by NBC under uniform μ, find the alternative distribution q
closest to uniform u = 1/N in total variation that reverses them:

    minimise ½ Σ_i s_i   s.t.  s_i ≥ |q_i − 1/N|,  a·q ≤ −δ,  Σ q = 1,  q_i ≥ ε,  s_i ≥ ε,

with a = P[k1, :] − P[k2, :] (so a·q = NBC_q(k1) − NBC_q(k2)).

Closed form (:func:`min_tv_flip`): moving mass t from option i to option j costs t in TV and
lowers a·q by t·(a_i − a_j). The cheapest receiver is always j* = argmin a, and the donors are a
fractional knapsack: take mass from options in decreasing order of a_i − a_j* (each can give at
most 1/N − ε) until a·q = −δ. This is exact for the LP without the floors ``s_i ≥ ε``; those
floors only add ½ε for each option left (nearly) untouched, so the LP optimum differs from
the closed form's TV by at most N·ε/2 (tested against scipy's HiGHS on random instances).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

EPS = 1e-5
DELTA = 1e-5


def min_tv_flip(a, n_options=None, eps: float = EPS, delta: float = DELTA, base=None):
    """Vectorised closed form over instances ``a[M, N]`` (rows padded beyond ``n_options[M]``).

    ``base[M, N]`` is the starting distribution (default uniform 1/N; the paper's problem).
    Returns ``(feasible[M], tv[M], q[M, N])``: whether a·q ≤ −δ is reachable with q_i ≥ ε,
    the minimal ½‖q − base‖₁, and the optimal q (NaN rows when infeasible, 0 in padding).
    """
    a = np.atleast_2d(np.asarray(a, dtype=float))
    m, n_max = a.shape
    n = np.full(m, n_max) if n_options is None else np.asarray(n_options, dtype=int)
    valid = np.arange(n_max)[None, :] < n[:, None]
    if base is None:
        u = np.where(valid, 1.0 / n[:, None], 0.0)
    else:
        u = np.where(valid, np.atleast_2d(np.asarray(base, dtype=float)), 0.0)
    a_valid = np.where(valid, a, np.inf)
    recv = np.argmin(a_valid, axis=1)
    rows = np.arange(m)
    gain = np.where(valid, a - a[rows, recv][:, None], 0.0)
    gain[rows, recv] = 0.0
    need = (np.where(valid, a, 0.0) * u).sum(1) + delta       # a·u + δ: how far a·q must fall
    cap = np.maximum(u - eps, 0.0)                            # most mass an option can give
    order = np.argsort(-gain, axis=1, kind="stable")
    g_sorted = np.take_along_axis(gain, order, axis=1)
    cap_sorted = np.take_along_axis(cap, order, axis=1)
    reach = np.cumsum(cap_sorted * g_sorted, axis=1)          # a·q reduction after draining the first k
    feasible = (reach[:, -1] >= need) & (need > 0)
    already = need <= 0                                       # pair not ordered by NBC: nothing to move
    k = np.argmax(reach >= need[:, None], axis=1)             # first donor that completes the flip
    prev = np.where(k > 0, np.take_along_axis(reach, np.maximum(k - 1, 0)[:, None], 1)[:, 0], 0.0)
    g_k = np.take_along_axis(g_sorted, k[:, None], 1)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        partial = np.where(g_k > 0, (need - prev) / g_k, 0.0)
    pos = np.arange(n_max)[None, :]
    t_sorted = np.where(pos < k[:, None], cap_sorted, np.where(pos == k[:, None], partial[:, None], 0.0))
    t = np.zeros_like(a)
    np.put_along_axis(t, order, t_sorted, axis=1)
    t = np.where(valid, t, 0.0)
    moved = t.sum(1)
    q = u - t
    q[rows, recv] += moved
    tv = np.where(already, 0.0, np.where(feasible, moved, np.inf))
    q = np.where(already[:, None], u, np.where(feasible[:, None], q, np.nan))
    return feasible | already, tv, q


def min_tv_flip_lp(a, eps: float = EPS, delta: float = DELTA, base=None):
    """The same LP solved by scipy's HiGHS, variables (q, s): the reference the closed form is
    tested against. Returns ``(feasible, objective, q)``."""
    a = np.asarray(a, dtype=float)
    n = a.size
    u = np.full(n, 1.0 / n) if base is None else np.asarray(base, dtype=float)
    eye = np.eye(n)
    c = np.r_[np.zeros(n), 0.5 * np.ones(n)]
    a_ub = np.vstack([np.hstack([eye, -eye]), np.hstack([-eye, -eye]), np.r_[a, np.zeros(n)][None]])
    b_ub = np.r_[u, -u, -delta]
    a_eq = np.r_[np.ones(n), np.zeros(n)][None]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=[(eps, None)] * (2 * n), method="highs")
    if res.status == 2:
        return False, np.inf, np.full(n, np.nan)
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the flip LP: {res.message}")
    return True, float(res.fun), res.x[:n]


def ordered_pairs(nbc, n_options=None):
    """All (question, k1, k2) with NBC(k1) > NBC(k2), for NBC rows ``nbc[Q, N]`` (padded)."""
    nbc = np.atleast_2d(np.asarray(nbc, dtype=float))
    qn, n_max = nbc.shape
    n = np.full(qn, n_max) if n_options is None else np.asarray(n_options, dtype=int)
    valid = np.arange(n_max)[None, :] < n[:, None]
    above = (nbc[:, :, None] > nbc[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    return np.nonzero(above)


def question_flips(pairwise, nbc, n_options=None, eps: float = EPS, delta: float = DELTA, base=None) -> dict:
    """Min-TV flip of every NBC-ordered pair of every question, reduced per question.

    ``pairwise[Q, N, N]`` and ``nbc[Q, N]`` are padded to the largest N. Returns per-question
    arrays: ``min_tv`` (inf when no pair can flip), ``best_pair`` (k1, k2), ``can_change``,
    ``top_min_tv`` (least TV to dethrone the NBC winner) and ``top_can_change``, ``best_q``.
    """
    pairwise, nbc = np.asarray(pairwise, float), np.atleast_2d(np.asarray(nbc, float))
    qn, n_max = nbc.shape
    n = np.full(qn, n_max) if n_options is None else np.asarray(n_options, dtype=int)
    qi, k1, k2 = ordered_pairs(nbc, n)
    a = pairwise[qi, k1, :] - pairwise[qi, k2, :]
    feasible, tv, q = min_tv_flip(a, n[qi], eps, delta, None if base is None else np.asarray(base, float)[qi])
    winner = np.argmax(np.where(np.arange(n_max)[None] < n[:, None], nbc, -np.inf), axis=1)
    min_tv = np.full(qn, np.inf)
    np.minimum.at(min_tv, qi, tv)
    top = np.full(qn, np.inf)
    is_top = k1 == winner[qi]
    np.minimum.at(top, qi[is_top], tv[is_top])
    # the arg-min pair per question: order by (question, tv) and take each question's first
    order = np.lexsort((tv, qi))
    first = order[np.r_[True, qi[order][1:] != qi[order][:-1]]] if len(order) else order
    best_pair = np.full((qn, 2), -1)
    best_q = np.full((qn, n_max), np.nan)
    best_pair[qi[first]] = np.c_[k1[first], k2[first]]
    best_q[qi[first]] = q[first]
    return {"min_tv": min_tv, "can_change": np.isfinite(min_tv), "top_min_tv": top,
            "top_can_change": np.isfinite(top), "best_pair": best_pair, "best_q": best_q,
            "n_pairs": np.bincount(qi, minlength=qn)}
