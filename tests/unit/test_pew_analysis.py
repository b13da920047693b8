import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hetpref.aggregation import normalized_borda_count, pairwise_preference_matrix
from hetpref.pew.analysis import (
    analyse_counts,
    analyse_questions,
    bootstrap_question,
    luce_shepard_rewards,
    summary_statistics,
)
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
        assert (res["min_tv"][i] == pytest.approx(min(tvs), abs=n * EPS / 2 + 1e-9)
                or (np.isinf(min(tvs)) and np.isinf(res["min_tv"][i])))
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


# ------------------------------------------------------------------ bootstrap for aggregated counts


def _respondents(rng, n=3000, sd=0.5):
    type_idx, answer_idx = rng.integers(3, size=n), rng.integers(4, size=n)
    weight = rng.lognormal(0.0, sd, size=n)
    return type_idx, answer_idx, weight


def _cells(type_idx, answer_idx, values):
    out = np.zeros((3, 4))
    np.add.at(out, (type_idx, answer_idx), values)
    return out


def test_effective_sample_size_is_kish_for_cell_constant_weights_and_bounds_it_otherwise():
    from hetpref.pew.analysis import effective_sample_sizes

    rng = np.random.default_rng(5)
    type_idx, answer_idx, weight = _respondents(rng)
    n_cells = _cells(type_idx, answer_idx, 1.0)
    kish = np.array([weight[type_idx == u].sum() ** 2 / (weight[type_idx == u] ** 2).sum() for u in range(3)])
    bound = effective_sample_sizes(_cells(type_idx, answer_idx, weight), n_cells)
    assert np.all(kish <= bound + 1e-9) and np.all(bound <= n_cells.sum(-1) + 1e-9)
    assert np.all(kish < 0.9 * n_cells.sum(-1))  # these weights do cost effective size
    # weights constant within each cell: the formula is Kish's exactly
    cell_weight = rng.uniform(0.3, 3.0, size=(3, 4))
    w_const = cell_weight[type_idx, answer_idx]
    kish_const = np.array([w_const[type_idx == u].sum() ** 2 / (w_const[type_idx == u] ** 2).sum() for u in range(3)])
    np.testing.assert_allclose(effective_sample_sizes(_cells(type_idx, answer_idx, w_const), n_cells), kish_const)
    # only weighted counts: the weighted total stands for n
    counts = _cells(type_idx, answer_idx, weight)
    np.testing.assert_allclose(effective_sample_sizes(counts), counts.sum(-1))


def test_parametric_bootstrap_is_the_scaled_multinomial_of_each_group():
    from hetpref.pew.analysis import effective_sample_sizes, parametric_bootstrap_counts

    counts = np.array([[120.0, 60.0, 20.0, 0.0], [30.0, 30.0, 90.0, 50.0], [0.0, 0.0, 0.0, 0.0]])
    n_counts = np.array([[100.0, 50.0, 25.0, 0.0], [40.0, 20.0, 80.0, 60.0], [0.0, 0.0, 0.0, 0.0]])
    draws = parametric_bootstrap_counts(counts, n_counts, 20000, np.random.default_rng(0))
    assert draws.shape == (20000, 3, 4)
    np.testing.assert_allclose(draws.sum(-1), np.broadcast_to(counts.sum(-1), (20000, 3)))  # group totals kept
    assert np.all(draws[:, 2] == 0) and np.all(draws[:, 0, 3] == 0)  # empty group, never-chosen option
    m = np.rint(effective_sample_sizes(counts, n_counts))[:2]
    total, p = counts.sum(-1)[:2, None], counts[:2] / counts[:2].sum(-1, keepdims=True)
    se_mean = np.sqrt(total ** 2 / m[:, None] * p * (1 - p) / 20000)
    assert np.all(np.abs(draws[:, :2].mean(0) - counts[:2]) <= 4 * se_mean + 1e-12)   # unbiased
    np.testing.assert_allclose(draws[:, :2].var(0), total ** 2 / m[:, None] * p * (1 - p), rtol=0.05, atol=1e-9)
    again = parametric_bootstrap_counts(counts, n_counts, 50, np.random.default_rng(1))
    np.testing.assert_array_equal(again, parametric_bootstrap_counts(counts, n_counts, 50, np.random.default_rng(1)))


def test_bootstrap_table_uses_the_parametric_bootstrap_for_counts_and_says_so():
    from hetpref.pew.analysis import bootstrap_table

    # an EV-like question (docs/spec.md §6): 4000 weighted respondents, min-TV ≈ 0.24
    rng = np.random.default_rng(6)
    type_idx = rng.choice(3, size=4000, p=[0.45, 0.45, 0.1])
    probs = np.array([[0.03, 0.03, 0.09, 0.85], [0.24, 0.22, 0.45, 0.09], [0.15, 0.33, 0.29, 0.23]])
    answer_idx = (rng.random(4000)[:, None] >= probs.cumsum(1)[type_idx]).sum(1)
    weight = rng.lognormal(0.0, 0.3, size=4000)
    counts = _cells(type_idx, answer_idx, weight)
    sav = SimpleNamespace(wave="W1", name="S", counts=counts, type_idx=type_idx, answer_idx=answer_idx,
                          weight=weight, n_counts=_cells(type_idx, answer_idx, 1.0))
    agg = SimpleNamespace(wave="W1", name="C", counts=counts, type_idx=None, answer_idx=None, weight=None,
                          n_counts=sav.n_counts)
    table = bootstrap_table([sav, agg], draws=400, seed=0, level=0.9)
    assert table["method"].tolist() == ["respondent", "parametric"]
    assert table.loc[0, "n_eff"] == pytest.approx(weight.sum() ** 2 / (weight ** 2).sum(), rel=1e-4)
    assert table.loc[0, "n_eff"] < table.loc[1, "n_eff"] <= 4000  # the cell-level bound is above Kish's
    point = analyse_counts(counts[None], [4])["min_tv"][0]
    width = table["min_tv_hi"] - table["min_tv_lo"]
    assert np.all(table["min_tv_lo"] < point) and np.all(point < table["min_tv_hi"])
    # the same data give intervals of similar width (the parametric one holds the type shares fixed)
    assert 0.6 < width[1] / width[0] < 1.1, width.tolist()


def test_partition_summary_matches_summary_statistics_per_partition_and_on_common_questions():
    from hetpref.pew.analysis import partition_summary

    rows = pd.DataFrame({
        "partition": ["a"] * 4 + ["b"] * 3,
        "wave": ["W1"] * 7, "question": ["q1", "q2", "q3", "q4", "q1", "q2", "q5"],
        "n_types": [3] * 4 + [5, 6, 5],
        "can_change": [True, True, False, True, False, True, True],
        "min_tv": [0.1, 0.3, np.inf, 0.5, np.inf, 0.2, 0.4],
        "top_can_change": [True, False, False, False, False, True, False],
        "top_differs": [False] * 7,
    })
    out = partition_summary(rows, [{"name": "a", "columns": ["X"]}, {"name": "b", "columns": ["X", "Y"]},
                                   {"name": "c", "columns": ["Z"]}]).set_index("partition")
    for name in "ab":
        s = summary_statistics(rows[rows.partition == name])
        assert out.loc[name, "questions_analysed"] == s["questions_analysed"]
        assert out.loc[name, "share_ranking_can_change"] == pytest.approx(s["share_ranking_can_change"])
        assert out.loc[name, "median_min_tv"] == pytest.approx(s["median_min_tv"])
        assert out.loc[name, "common_questions"] == 2  # q1, q2 are analysed under both
    assert out.loc["a", "common_share_ranking_can_change"] == 1.0 and out.loc["b", "common_median_min_tv"] == 0.2
    assert out.loc["a", "types"] == "3" and out.loc["b", "types"] == "5–6" and out.loc["b", "columns"] == "X × Y"
    assert out.loc["c", "questions_analysed"] == 0 and out.loc["c", "types"] == ""
