import numpy as np
import pytest
import torch

from hetpref.metrics import total_variation
from hetpref.synthetic.config import CorrectionConfig, TrainConfig
from hetpref.synthetic.data import anonymous_labels, counted_nbc, per_type_labels, same_annotator_pairing, sample_pairs
from hetpref.synthetic.environment import SyntheticEnvironment, profile
from hetpref.synthetic.experiment import compute_oracles, evaluate, method_id, oracle_key, parse_method, run_method
from hetpref.synthetic.train import train_consistent, train_corrected_dpo, train_dpo
from hetpref.synthetic.variance import train_joint_model

SMALL = SyntheticEnvironment(n=8, shifts=(-2, 0, 2), slopes=(0.3, 0.4, 0.3), scales=(4.0, 1.5, 4.0))


def rewards_t(env=SMALL):
    return torch.tensor(env.rewards(), dtype=torch.float32)


def test_environment_matches_definition():
    env = SyntheticEnvironment()
    r = env.rewards()
    # type 0 peaks at y = x − 10 with c = 4; at distance 5 its reward is 4·(1 − 0.075·5)
    assert r[0, 15, 5] == pytest.approx(4.0)
    assert r[0, 15, 10] == pytest.approx(4 * (1 - 0.075 * 5))
    assert r[1, 0, 39] == pytest.approx(1.5 * (1 - 0.1))  # circular distance 1
    assert r.min() >= 0
    with pytest.raises(ValueError, match="equal length"):
        SyntheticEnvironment(shifts=(0, 1), slopes=(0.1,), scales=(1.0, 1.0))


def test_data_is_deterministic_and_seed_dependent():
    a, b, c = (sample_pairs(1000, 8, 8, s) for s in (3, 3, 4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y1, b.y1)
    assert not torch.equal(a.y1, c.y1)
    la, _ = anonymous_labels(rewards_t(), a, 3)
    lb, _ = anonymous_labels(rewards_t(), b, 3)
    assert torch.equal(la, lb)


def test_label_shares_follow_bt_probabilities():
    r = rewards_t()
    pairs = sample_pairs(200_000, 8, 8, 0)
    per_type = per_type_labels(r, pairs, 0)
    d = (r[:, pairs.x, pairs.y1] - r[:, pairs.x, pairs.y2]).T
    np.testing.assert_allclose(per_type.float().mean(0), torch.sigmoid(d).mean(0), atol=5e-3)
    labels, types = anonymous_labels(r, pairs, 0)
    assert abs(labels.float().mean() - torch.sigmoid(d).mean()) < 5e-3
    np.testing.assert_allclose(torch.bincount(types).numpy() / len(types), [1 / 3] * 3, atol=5e-3)


def test_same_annotator_pairs_share_a_type():
    types = torch.randint(3, (10_001,), generator=torch.Generator().manual_seed(0))
    first, second = same_annotator_pairing(types, 0)
    assert torch.equal(types[first], types[second])
    assert len(first) >= 10_001 // 2 - 3
    assert len(set(first.tolist()) | set(second.tolist())) == 2 * len(first)  # each preference used once


def test_counted_nbc_converges_to_exact_nbc():
    pairs = sample_pairs(400_000, 8, 8, 1)
    labels, _ = anonymous_labels(rewards_t(), pairs, 1)
    est = counted_nbc(pairs, labels, 8, 8).numpy()
    assert np.abs(est - SMALL.nbc()).max() < 0.02


@pytest.mark.parametrize("policy", ["tabular", "mlp"])
def test_training_is_deterministic(policy):
    cfg = TrainConfig(steps=30, batch_size=64, policy=policy, log_every=10)
    pairs = sample_pairs(2000, 8, 8, 5)
    a = train_dpo(rewards_t(), pairs, 5, cfg)
    b = train_dpo(rewards_t(), pairs, 5, cfg)
    assert torch.equal(a.policy, b.policy)
    assert a.loss_trajectory == b.loss_trajectory and len(a.loss_trajectory) == 3
    assert torch.allclose(a.policy.sum(-1), torch.ones(8, dtype=torch.float64))


def test_nan_loss_raises_with_step():
    cfg = TrainConfig(steps=20, batch_size=32, lr=1e30, log_every=5)
    with pytest.raises(FloatingPointError, match="non-finite policy loss"):
        train_dpo(rewards_t(), sample_pairs(500, 8, 8, 0), 0, cfg, loss="ipo", tau=1e-30)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"), ({"policy": "cnn"}, "policy"), ({"hidden": (0,)}, "hidden")])
def test_train_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -1}, "alpha"), ({"correction_clamp": 0}, "correction_clamp"),
    ({"joint_rewards": "mlp"}, "joint_rewards"),
    ({"joint_holdout": 1.0}, "joint_holdout"), ({"joint_holdout": 0.0}, "early_stopping needs held-out"),
    ({"joint_batch_size": 0}, "joint_batch_size")])
def test_correction_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CorrectionConfig(**kwargs)


@pytest.mark.slow
def test_learners_approach_their_limits_on_a_small_environment():
    """Enough data and steps on the 8×8 environment: DPO lands near the DPO limit, the consistent
    loss near π*, and the consistent policy is closer to π* than DPO's."""
    oracles = compute_oracles(SMALL, [1.0], CorrectionConfig(alpha=1.0))
    cfg = TrainConfig(steps=3000, batch_size=512, lr=1e-2, policy="tabular")
    pairs = sample_pairs(200_000, 8, 8, 0)
    dpo = train_dpo(rewards_t(), pairs, 0, cfg).policy.numpy()
    cons = train_consistent(rewards_t(), pairs, 0, cfg)
    assert total_variation(dpo, oracles["dpo_limit"]) < 0.03
    assert total_variation(cons.policy.numpy(), oracles["optimal"]) < 0.03
    assert total_variation(cons.policy.numpy(), oracles["optimal"]) < total_variation(dpo, oracles["optimal"])
    assert 0 < cons.info["fraction_used"] < 1


def test_corrected_dpo_run_and_method_ids():
    assert (method_id("corrected_dpo", 1.0) == "cdpo_alpha1"
            and parse_method("cdpo_alpha0.5") == ("corrected_dpo", 0.5, "estimated"))
    assert method_id("corrected_dpo", 2, "oracle") == "cdpo_alpha2_oracle"
    assert (parse_method("cdpo_alpha2_oracle") == ("corrected_dpo", 2.0, "oracle")
            and parse_method("dpo") == ("dpo", None, None))
    assert oracle_key("cdpo_alpha2_oracle") == oracle_key("cdpo_alpha2") == "limit_cdpo_alpha2"
    for bad in ("cdpo", "cdpo_alpha1_truth"):
        with pytest.raises(ValueError, match="allowed"):
            parse_method(bad)
    with pytest.raises(ValueError, match="variance must be one of"):
        method_id("corrected_dpo", 1.0, "truth")
    cfg = TrainConfig(steps=50, batch_size=64, log_every=10)
    corr = CorrectionConfig(alpha=1.0, joint_steps=20, warmup_steps=25, joint_eval_every=10)
    pairs = sample_pairs(2000, 8, 8, 0)
    model, _, _ = train_joint_model(rewards_t(), pairs, 0, cfg, corr)
    res = train_corrected_dpo(rewards_t(), pairs, 0, cfg, corr, model)
    assert res.info["alpha"] == 1.0 and len(res.loss_trajectory) == 5
    with pytest.raises(ValueError, match="warmup_steps"):
        train_corrected_dpo(rewards_t(), pairs, 0, cfg, CorrectionConfig(warmup_steps=51), model)
    with pytest.raises(ValueError, match="exactly one"):
        train_corrected_dpo(rewards_t(), pairs, 0, cfg, corr)


def test_evaluate_reports_every_metric():
    oracles = compute_oracles(SMALL, [1.0], CorrectionConfig())
    res = run_method("nbc_counts", SMALL, 20_000, 0, TrainConfig())
    m = evaluate("nbc_counts", res.policy.numpy(), oracles)
    assert m["spearman_vs_nbc"] > 0.9 and m["tv_to_optimal"] is None
    m = evaluate("consistent", oracles["optimal"], oracles)
    assert m["tv_to_optimal"] == 0 and m["tv_to_own_limit"] < 1e-6
    assert m["argmax_d"] == SMALL.signed_offsets()[profile(oracles["optimal"])[0].argmax()]
    assert m["spearman_vs_average_reward"] == pytest.approx(1.0)
