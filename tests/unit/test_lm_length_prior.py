"""The length-prior bound of DPO with a uniform reference
(hetpref.lm.evaluation.length_oracle.dpo_length_prior_bound)."""
import numpy as np

from hetpref.lm.data.relabel import average_reward
from hetpref.lm.evaluation.length_oracle import dpo_length_prior_bound


def test_bound_by_hand():
    # r̄ prefers the first of each pair (checked below); Δ = +3, −3, +40, −40 tokens
    a = np.array([243, 120, 240, 60])
    b = np.array([240, 123, 200, 100])
    assert (average_reward(a) > average_reward(b)).all()
    # shorter wins on pairs 2 and 4 (the first is shorter); with H = 2 and G = 10 only |Δ| ≤ 5 can be moved:
    # pairs 1 (wrong under the prior, flippable) and 2 → bound 3/4; the prior itself 2/4
    t = dpo_length_prior_bound(a, b, nats_per_token=[2.0], eos_ranges=[10.0, 100.0])
    r = t.set_index("eos_range_nats")
    assert r.loc[10.0, "shorter_wins"] == 0.5
    assert r.loc[10.0, "flippable_share"] == 0.5 and r.loc[10.0, "upper_bound"] == 0.75
    assert r.loc[100.0, "flippable_share"] == 1.0 and r.loc[100.0, "upper_bound"] == 1.0


def test_bound_grows_with_the_eos_range_and_falls_with_entropy():
    rng = np.random.default_rng(0)
    n = rng.integers(20, 500, size=(2, 400))
    t = dpo_length_prior_bound(n[0], n[1], nats_per_token=[1.0, 4.0], eos_ranges=[0.0, 10.0, 50.0, 1e9])
    for _h, sub in t.groupby("nats_per_token"):
        ub = sub.sort_values("eos_range_nats")["upper_bound"].to_numpy()
        assert np.all(np.diff(ub) >= 0) and ub[-1] == 1.0
        assert abs(ub[0] - sub["shorter_wins"].iloc[0]) < 0.01  # G = 0: only equal lengths move
    at = t.set_index(["nats_per_token", "eos_range_nats"])["upper_bound"]
    assert at[(4.0, 10.0)] <= at[(1.0, 10.0)]
