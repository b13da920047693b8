import itertools

import numpy as np
import pytest
from scipy.special import expit

from hetpref.aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix, ranking
from hetpref.preferences import bt_probability, population_preference, simulate_until_unanimous, type_weights


def test_bt_probability_and_temperature():
    assert bt_probability(0.0) == pytest.approx(0.5)
    assert bt_probability(np.log(3.0)) == pytest.approx(0.75)
    # temperature τ: σ(Δ/τ)
    assert bt_probability(2 * np.log(3.0), temperature=2.0) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="temperature"):
        bt_probability(1.0, temperature=0)


def test_population_preference_is_weighted_mixture():
    deltas = np.array([2.0, -1.0])
    w = [0.25, 0.75]
    expected = 0.25 / (1 + np.exp(-2)) + 0.75 / (1 + np.exp(1))
    assert population_preference(deltas, w) == pytest.approx(expected)
    with pytest.raises(ValueError, match="sum to 1"):
        type_weights(2, [0.5, 0.6])


@pytest.mark.parametrize("seed", range(5))
def test_nbc_matches_brute_force_sum(seed):
    rng = np.random.default_rng(seed)
    n_types, n = rng.integers(2, 5), rng.integers(3, 8)
    rewards = rng.normal(size=(n_types, n)) * 2
    w = rng.dirichlet(np.ones(n_types))
    mu = rng.dirichlet(np.ones(n))
    tau = rng.uniform(0.5, 2)
    P = pairwise_preference_matrix(rewards, w, tau)
    nbc = normalized_borda_count(P, mu)
    for y in range(n):
        brute = 0.0
        for u, y2 in itertools.product(range(n_types), range(n)):
            brute += w[u] * mu[y2] / (1 + np.exp(-(rewards[u, y] - rewards[u, y2]) / tau))
        assert nbc[y] == pytest.approx(brute, abs=1e-12)
    np.testing.assert_allclose(P + P.T, 1.0)
    np.testing.assert_allclose(np.diag(P), 0.5)


def test_average_reward_and_ranking():
    rewards = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    np.testing.assert_allclose(average_reward(rewards, [0.25, 0.75]), [1.5, 1.0, 0.5])
    assert ranking([0.1, 0.3, 0.2]).tolist() == [1, 2, 0]


def test_nbc_and_average_reward_can_disagree():
    # three equal types: NBC (uniform μ) crowns option 2, the average reward option 1
    rewards = np.array([[0.0, 4.0, 4.0], [0.0, 4.0, 0.0], [5.0, 3.0, 6.0]])
    nbc = normalized_borda_count(pairwise_preference_matrix(rewards))
    rbar = average_reward(rewards)
    assert ranking(nbc)[0] == 2 and nbc[2] - nbc[1] > 0.005
    assert ranking(rbar)[0] == 1 and rbar[1] - rbar[2] > 0.3


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    from hetpref.metrics import kl_divergence, spearman, total_variation

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 5, size=30).astype(float)
        b = a + rng.normal(size=30)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b)[0], abs=1e-12)
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.25, 0.75], [0.5, 0.5]])
    assert total_variation(p, q) == pytest.approx((0.25 + 0.5) / 2)
    assert kl_divergence(p, q) == pytest.approx((0.5 * np.log(2) + 0.5 * np.log(2 / 3) + np.log(2)) / 2)


def test_until_unanimous_single_type_is_plain_bt():
    share, rounds = simulate_until_unanimous(np.array([[0.7, -1.3]]), 50_000, np.random.default_rng(0))
    np.testing.assert_allclose(share, expit([0.7, -1.3]), atol=0.01)
    assert np.all(rounds == 1)  # one type always agrees with itself


def test_until_unanimous_is_bt_on_the_summed_reward():
    d = np.array([[1.0, -0.5, 0.2], [0.4, -1.0, -0.6]])
    share, rounds = simulate_until_unanimous(d, 40_000, np.random.default_rng(1))
    np.testing.assert_allclose(share, expit(d.sum(0)), atol=0.01)
    p_agree = np.prod(expit(d), 0) + np.prod(expit(-d), 0)
    np.testing.assert_allclose(rounds, 1 / p_agree, rtol=0.03)  # geometric number of rounds
