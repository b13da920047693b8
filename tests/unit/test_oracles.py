import numpy as np
import pytest
import torch

from hetpref.aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix
from hetpref.metrics import total_variation
from hetpref.oracles import (
    consistent_limit_reward,
    corrected_dpo_limit_reward,
    dpo_limit_reward,
    optimal_policy,
    pairwise_loss_weights,
    population_limit_reward,
    type_delta_variance,
    unanimous_fraction,
)
from hetpref.synthetic.environment import SyntheticEnvironment, profile


def random_population(seed, k=3, x=4, n=6):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=1.5, size=(k, x, n))


@pytest.mark.parametrize("seed", range(4))
def test_dpo_limit_satisfies_eq14_and_matches_generic_solver(seed):
    rewards = random_population(seed)
    rng = np.random.default_rng(100 + seed)
    mu = rng.dirichlet(np.ones(rewards.shape[-1]), size=rewards.shape[1])
    P = pairwise_preference_matrix(rewards)
    r = dpo_limit_reward(P, mu)
    s = 1 / (1 + np.exp(-(r[:, :, None] - r[:, None, :])))
    # Eq. 14: Σ_y' μ(y') σ(r(y) − r(y')) = NBC_μ(y)
    np.testing.assert_allclose(np.einsum("xab,xb->xa", s, mu), normalized_borda_count(P, mu), atol=1e-10)
    generic = population_limit_reward("dpo", pairwise_loss_weights(rewards, mu))
    np.testing.assert_allclose(generic, r, atol=1e-6)
    # ordinal consistency with NBC
    assert (np.argsort(r, -1) == np.argsort(normalized_borda_count(P, mu), -1)).all()


@pytest.mark.parametrize("loss", ["consistent", "consistent_ik"])
def test_consistent_limit_is_average_reward(loss):
    rewards = random_population(7)
    r = consistent_limit_reward(rewards, loss=loss)
    rbar = average_reward(rewards)
    np.testing.assert_allclose(r, rbar - rbar.mean(-1, keepdims=True), atol=1e-6)


def test_corrected_limit_first_order_condition_and_alpha_zero():
    rewards = random_population(3)
    r = corrected_dpo_limit_reward(rewards, alpha=1.0, variance_kind="delta")
    W = torch.tensor(pairwise_loss_weights(rewards))
    V = torch.tensor(type_delta_variance(rewards, kind="delta"))
    rt = torch.tensor(r, requires_grad=True)
    from hetpref.losses import corrected_dpo_loss
    val = (W * corrected_dpo_loss(rt[:, :, None] - rt[:, None, :], V, alpha=1.0, variance_kind="delta")).sum()
    (grad,) = torch.autograd.grad(val, rt)
    assert grad.abs().max() < 1e-7
    r0 = corrected_dpo_limit_reward(rewards, alpha=0.0)
    np.testing.assert_allclose(r0, dpo_limit_reward(pairwise_preference_matrix(rewards)), atol=1e-5)


def test_unanimous_fraction_matches_monte_carlo():
    rewards = random_population(11, x=3, n=5)
    rng = np.random.default_rng(0)
    m = 400_000
    x, a, b = rng.integers(3, size=m), rng.integers(5, size=m), rng.integers(5, size=m)
    d = rewards[:, x, a] - rewards[:, x, b]
    labels = rng.random(d.shape) < 1 / (1 + np.exp(-d))
    mc = (labels.all(0) | (~labels).all(0)).mean()
    assert unanimous_fraction(rewards) == pytest.approx(mc, abs=3e-3)


def test_synthetic_environment_oracle_numbers():
    env = SyntheticEnvironment()
    d = env.signed_offsets()
    opt = env.optimal_policy()
    dpo = optimal_policy(dpo_limit_reward(env.pairwise()))
    theory = optimal_policy(corrected_dpo_limit_reward(env.rewards(), 1.0, variance_kind="delta"))
    assert abs(d[profile(opt)[0].argmax()]) == 10
    assert d[profile(dpo)[0].argmax()] == 0
    tv_dpo, tv_theory = total_variation(dpo, opt), total_variation(theory, opt)
    assert tv_dpo == pytest.approx(0.0437, abs=5e-4)
    assert tv_theory == pytest.approx(0.0179, abs=5e-4)
    assert tv_theory < tv_dpo
    assert unanimous_fraction(env.rewards()) == pytest.approx(0.156, abs=2e-3)
    # rewards depend on (y − x) mod N only
    R = env.rewards()
    np.testing.assert_allclose(R[:, 1, 1:], R[:, 0, :-1])


# ---------------------------------------------------------------- unanimity and single-pair minimisers
def test_unanimity_weights_closed_form_and_bt_on_sum():
    from scipy.special import expit

    from hetpref.oracles import unanimity_weights

    rng = np.random.default_rng(3)
    for k in (1, 2, 5):
        d = rng.normal(scale=2.0, size=(k, 40))
        w_pos, w_neg = unanimity_weights(d)
        np.testing.assert_allclose(w_pos.numpy(), np.prod(expit(d), 0), rtol=1e-12)
        np.testing.assert_allclose(w_neg.numpy(), np.prod(expit(-d), 0), rtol=1e-12)
        # P(all prefer y1 | unanimous) = σ(Σ_u Δ_u) (§6)
        np.testing.assert_allclose((w_pos / (w_pos + w_neg)).numpy(), expit(d.sum(0)), atol=1e-12)
    # a tensor in gives the same as the array
    d = rng.normal(size=(3, 4))
    assert torch.equal(unanimity_weights(torch.as_tensor(d))[0], unanimity_weights(d)[0])


def test_convex_scalar_minimiser_and_bracket():
    from hetpref.oracles import convex_scalar_minimiser

    centre = torch.tensor([-3.0, 0.5, 7.25], dtype=torch.float64)
    h = convex_scalar_minimiser(lambda h: (h - centre) ** 2, 3)
    np.testing.assert_allclose(h, centre.numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="bracket"):
        convex_scalar_minimiser(lambda h: (h - 100.0) ** 2, 1)


def test_pair_minimisers_agree_with_scipy():
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, log_expit

    from hetpref.oracles import disagreement_term_minimiser, pair_population_minimiser, reference_variant_minimiser

    rng = np.random.default_rng(5)
    d = rng.normal(scale=1.5, size=(4, 3))
    h_var = reference_variant_minimiser(d)
    h_dis = disagreement_term_minimiser(d, 0.5)
    np.testing.assert_allclose(disagreement_term_minimiser(d, 0.0), d.mean(0), atol=1e-6)  # consistent at w = 0
    np.testing.assert_allclose(pair_population_minimiser("consistent", d), d.mean(0), atol=1e-9)
    for j in range(3):
        wp, wn = np.prod(expit(d[:, j])), np.prod(expit(-d[:, j]))
        q1, q2 = wp * np.exp(-d[:, j]).sum(), wn * np.exp(d[:, j]).sum()

        def variant(h, wp=wp, wn=wn):
            return -wp * log_expit(4 * h) - wn * log_expit(4 * (1 - h))

        def dis(h, wp=wp, wn=wn, q1=q1, q2=q2):
            return (-wp * log_expit(4 * h) - wn * log_expit(-4 * h)
                    + 0.5 * (-q1 * log_expit(h) - q2 * log_expit(-h)))

        for f, h in ((variant, h_var[j]), (dis, h_dis[j])):
            ref = minimize_scalar(f, bounds=(-30, 30), method="bounded", options={"xatol": 1e-10}).x
            assert h == pytest.approx(ref, abs=1e-6)
    # the variant and the disagreement term are biased away from mean_u Δ_u
    assert np.abs(h_var - d.mean(0)).max() > 0.1 and np.abs(h_dis - d.mean(0)).max() > 1e-3
