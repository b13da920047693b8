import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hetpref.losses import LOSS_NAMES, corrected_dpo_loss, first_order_correction, preference_loss, unanimous_mask
from hetpref.oracles import pair_population_minimiser

H = torch.linspace(-4, 4, 17, dtype=torch.float64)


def test_registry_dispatches_every_name_and_rejects_unknown():
    params = {"corrected_dpo": {"variance": torch.zeros_like(H)}, "consistent": {"n_types": 3},
              "consistent_ik": {"n_types": 3}, "consistent_reference_variant": {"n_types": 3}}
    for name in LOSS_NAMES:
        out = preference_loss(name, H, **params.get(name, {}))
        assert out.shape == H.shape and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="allowed: dpo, ipo"):
        preference_loss("dpoo", H)


def test_closed_forms():
    np.testing.assert_allclose(preference_loss("dpo", H), np.log1p(np.exp(-H.numpy())))
    np.testing.assert_allclose(preference_loss("bt_reward", H), preference_loss("dpo", H))
    np.testing.assert_allclose(preference_loss("ipo", H, tau=0.25), (H.numpy() - 2.0) ** 2)
    np.testing.assert_allclose(preference_loss("consistent", H, n_types=3), np.log1p(np.exp(-3 * H.numpy())))
    # I_1 is DPO
    np.testing.assert_allclose(preference_loss("consistent_ik", H, n_types=1), preference_loss("dpo", H), atol=1e-12)


def test_corrected_dpo_alpha_zero_is_dpo_and_kinds_agree():
    v = torch.full_like(H, 0.3)
    np.testing.assert_allclose(corrected_dpo_loss(H, v, alpha=0.0, eps=1e-12), preference_loss("dpo", H), rtol=1e-9)
    # delta-method link: Var(Δ) = Var[σ(Δ)] / (σ(1−σ))² gives the same correction
    s = torch.sigmoid(H)
    var_sigma = torch.full_like(H, 0.01)
    np.testing.assert_allclose(first_order_correction(H, var_sigma, "sigmoid"),
                               first_order_correction(H, var_sigma / (s * (1 - s)) ** 2, "delta"), rtol=1e-9)
    # second-order expansion: E_u σ(Δ_u) ≈ σ(Δ̄) + correction for small spread
    deltas = torch.tensor([0.8, 1.0, 1.2], dtype=torch.float64)
    exact = torch.sigmoid(deltas).mean()
    approx = torch.sigmoid(deltas.mean()) + first_order_correction(deltas.mean(), deltas.var(unbiased=False), "delta")
    assert abs(exact - approx) < 1e-4 < abs(exact - torch.sigmoid(deltas.mean()))
    with pytest.raises(ValueError, match="variance_kind"):
        first_order_correction(H, v, "bad")


def test_correction_clamp_and_stable_log():
    v = torch.full_like(H, 10.0)
    out = corrected_dpo_loss(H, v, alpha=5.0, correction_clamp=0.1, eps=1e-6)
    assert torch.isfinite(out).all()
    lik = torch.sigmoid(H) + 5.0 * first_order_correction(H, v, "sigmoid").clamp(-0.1, 0.1)
    np.testing.assert_allclose(out, -torch.log(lik.clamp(1e-6, 1 - 1e-6)))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_consistent_losses_recover_mean_difference(k):
    rng = np.random.default_rng(k)
    deltas = rng.normal(scale=2.0, size=(k, 200))
    target = deltas.mean(0)
    for loss in ("consistent", "consistent_ik"):
        h = pair_population_minimiser(loss, deltas)
        np.testing.assert_allclose(h, target, atol=1e-6, err_msg=loss)
    # DPO's minimiser is logit(E σ(Δ_u)), not the mean difference
    h_dpo = pair_population_minimiser("dpo", deltas)
    p = (1 / (1 + np.exp(-deltas))).mean(0)
    np.testing.assert_allclose(h_dpo, np.log(p / (1 - p)), atol=1e-6)
    assert np.abs(h_dpo - target).max() > 0.1


def test_reference_code_variant_is_biased():
    # all-zero term written as −log σ(k(1 − h)): its minimiser misses the mean difference
    deltas = np.array([[1.0, -0.5], [0.5, 0.2], [2.0, -1.0]])
    d = torch.tensor(deltas)
    w_pos = torch.exp(F.logsigmoid(d).sum(0))
    w_neg = torch.exp(F.logsigmoid(-d).sum(0))
    h = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([h], max_iter=500, line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def closure():
        opt.zero_grad()
        val = (w_pos * preference_loss("consistent", h, n_types=3)
               + w_neg * preference_loss("consistent_reference_variant", h, n_types=3)).sum()
        val.backward()
        return val

    opt.step(closure)
    assert np.abs(h.detach().numpy() - deltas.mean(0)).min() > 0.05


def test_consistent_ik_rejects_k_above_4():
    with pytest.raises(ValueError, match="1..4"):
        preference_loss("consistent_ik", H, n_types=5)


def test_unanimous_mask():
    labels = torch.tensor([[1, 1, 1], [0, 0, 0], [1, 0, 1]])
    keep, sign = unanimous_mask(labels)
    assert keep.tolist() == [True, True, False]
    assert sign[:2].tolist() == [1.0, -1.0]
