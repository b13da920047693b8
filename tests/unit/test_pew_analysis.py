import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from hetpref.aggregation import normalized_borda_count, pairwise_preference_matrix
from hetpref.pew.analysis import (analyse_counts, analyse_questions, bootstrap_question, luce_shepard_rewards,
                                  summary_statistics)
from hetpref.pew.flip import DELTA, EPS, min_tv_flip, min_tv_flip_lp, ordered_pairs, question_flips


def random_instance(rng):
    n = int(rng.integers(3, 9))
    rewards = rng.normal(scale=rng.uniform(0.2, 2.0), size=(3, n))
    shares = rng.dirichlet(np.ones(3))
    P = pairwise_preference_matrix(rewards, shares)
    return n, P, normalized_borda_count(P)


def test_flip_solver_agrees_with_highs_on_random_instances():
    rng = np.random.default_rng(0)
    seen = {True: 0, False: 0}
    for _ in range(300):
        n, P, nbc = random_instance(rng)
        k1, k2 = np.argsort(-nbc)[rng.choice(n, 2, replace=False)[[0, 1]]]
        if nbc[k1] < nbc[k2]:
            k1, k2 = k2, k1
        a = P[k1] - P[k2]
        feasible, tv, q = min_tv_flip(a[None])
        lp_feasible, lp_obj, lp_q = min_tv_flip_lp(a)
        assert feasible[0] == lp_feasible
        seen[lp_feasible] += 1
        if lp_feasible:
            # the closed form drops the s_i ≥ ε floors: its TV is below the LP's by at most N·ε/2
            assert -1e-9 <= lp_obj - tv[0] <= n * EPS / 2 + 1e-9
            assert a @ q[0] <= -DELTA + 1e-12             # the flip holds
            assert q[0].sum() == pytest.approx(1.0, abs=1e-12) and q[0].min() >= EPS - 1e-15
            lp_tv = 0.5 * np.abs(lp_q - 1 / n).sum()
            assert tv[0] <= lp_tv + 1e-9                  # no feasible q is closer in TV
            # NBC under q really reverses the pair
            nbc_q = normalized_borda_count(P, q[0])
            assert nbc_q[k2] > nbc_q[k1]
    assert seen[True] > 20 and seen[False] > 20  # both branches exercised


def test_flip_solver_with_nonuniform_base_agrees_with_highs():
    rng = np.random.default_rng(1)
    for _ in range(100):
        n, P, _ = random_instance(rng)
        base = rng.dirichlet(np.ones(n) * 3)
        base = np.maximum(base, 2 * EPS)
        base /= base.sum()
        nbc = normalized_borda_count(P, base)
        k1, k2 = np.argmax(nbc), np.argmin(nbc)
        a = P[k1] - P[k2]
        f, tv, q = min_tv_flip(a[None], base=base[None])
        lf, lobj, _ = min_tv_flip_lp(a, base=base)
        assert f[0] == lf
        if lf:
            assert -1e-9 <= lobj - tv[0] <= n * EPS / 2 + 1e-9


def test_vectorised_flips_match_per_pair_loop_with_padding():
    rng = np.random.default_rng(2)
    instances = [random_instance(rng) for _ in range(40)]
    n_max = max(n for n, _, _ in instances)
    P = np.zeros((40, n_max, n_max))
    nbc = np.zeros((40, n_max))
    n_opts = np.array([n for n, _, _ in instances])
    for i, (n, p, b) in enumerate(instances):
        P[i, :n, :n], nbc[i, :n] = p, b
    res = question_flips(P, nbc, n_opts)
    for i, (n, p, b) in enumerate(instances):
        tvs, top = [], []
        for k1, k2 in itertools.permutations(range(n), 2):
            if b[k1] > b[k2]:
                f, obj, _ = min_tv_flip_lp(p[k1] - p[k2])
                tvs.append(obj if f else np.inf)
                if k1 == np.argmax(b):
                    top.append(tvs[-1])
        assert res["min_tv"][i] == pytest.approx(min(tvs), abs=n * EPS / 2 + 1e-9) or (np.isinf(min(tvs)) and np.isinf(res["min_tv"][i]))
        assert res["top_can_change"][i] == np.isfinite(min(top))
    qi, k1, k2 = ordered_pairs(nbc, n_opts)
    assert len(qi) == sum(n * (n - 1) // 2 for n in n_opts)


def test_luce_shepard_recovers_known_rewards():
    rng = np.random.default_rng(3)
    true = rng.normal(size=(3, 5))
    true -= true.mean(-1, keepdims=True)
    probs = np.exp(true) / np.exp(true).sum(-1, keepdims=True)
    exact = luce_shepard_rewards(probs * 1e12, 5, pseudocount=1e-9)
    np.testing.assert_allclose(exact, true, atol=1e-8)
    np.testing.assert_allclose(luce_shepard_rewards(probs, 5, floor=1e-15), true, atol=1e-10)
    # never-chosen option: the reference floor gives ≈ −34.5 before centring; the pseudo-count stays finite
    counts = np.array([[[50.0, 50.0, 0.0]]])
    ref = luce_shepard_rewards(counts, 3, floor=1e-15)[0, 0]
    assert ref[2] - ref[0] == pytest.approx(np.log(1e-15) - np.log(0.5 + 1e-15), rel=1e-6)
    smooth = luce_shepard_rewards(counts, 3, pseudocount=0.5)[0, 0]
    assert -6 < smooth[2] - smooth[0] < -4


def test_analysis_pipeline_and_summary():
    # the EV example's shape: NBC and r̄ disagree on the top option
    counts = np.array([[[300.0, 900.0, 1200.0, 100.0], [100.0, 400.0, 700.0, 1100.0], [40.0, 60.0, 80.0, 120.0]]])
    res = analyse_counts(counts, [4])
    P = res["pairwise"][0]
    np.testing.assert_allclose(P + P.T, 1.0)
    np.testing.assert_allclose(res["nbc"][0], P.mean(-1))
    np.testing.assert_allclose(res["shares"][0], counts[0].sum(-1) / counts.sum())
    q = SimpleNamespace(wave="W1", name="Q", text="t", options=list("ABCD"), type_names=["R", "D", "O"],
                        counts=counts[0], n_respondents=3000, type_idx=None, answer_idx=None, weight=None)
    table, _ = analyse_questions([q, q])
    s = summary_statistics(table)
    assert s["questions_analysed"] == 2 and s["ranking_can_change"] == table["can_change"].sum()
    if table["can_change"].iloc[0]:
        mu = np.array(table["flip_mu"].iloc[0])
        assert 0.5 * np.abs(mu - 0.25).sum() == pytest.approx(table["min_tv"].iloc[0], abs=1e-9)


def test_bootstrap_is_deterministic_and_centred():
    rng = np.random.default_rng(4)
    n = 2000
    type_idx, answer_idx = rng.integers(3, size=n), rng.integers(4, size=n)
    weight = rng.uniform(0.5, 1.5, size=n)
    counts = np.zeros((3, 4))
    np.add.at(counts, (type_idx, answer_idx), weight)
    q = SimpleNamespace(wave="W1", name="Q", counts=counts, type_idx=type_idx, answer_idx=answer_idx, weight=weight)
    a = bootstrap_question(q, 50, seed=0)
    b = bootstrap_question(q, 50, seed=0)
    np.testing.assert_array_equal(a["min_tv"], b["min_tv"])
    assert a["min_tv"].shape == (50,)
