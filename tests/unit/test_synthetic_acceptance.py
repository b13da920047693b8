"""§7.2 at the paper's scale (500,000 preferences, batch 1024, Adam 1e-3, 10,000 steps, seed 0):
the issue's acceptance criteria for DPO and the consistent loss, on the real trainers (~10 s)."""
import pandas as pd
import pytest
import torch

from hetpref.synthetic.checks import checks_markdown, synthetic_checks
from hetpref.synthetic.data import sample_pairs
from hetpref.synthetic.environment import SyntheticEnvironment
from hetpref.synthetic.experiment import compute_oracles, evaluate, oracle_summary
from hetpref.synthetic.train import CorrectionConfig, TrainConfig, train_consistent, train_dpo


@pytest.fixture(scope="module")
def paper_scale():
    torch.set_num_threads(1)
    env = SyntheticEnvironment()
    oracles = compute_oracles(env, [1.0], CorrectionConfig())
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    pairs = sample_pairs(500_000, env.n, env.n, 0)
    cfg = TrainConfig(policy="tabular")
    rows = [dict(seed=0, n_preferences=500_000, **evaluate("dpo", train_dpo(rewards, pairs, 0, cfg).policy.numpy(), oracles))]
    cons = train_consistent(rewards, pairs, 0, cfg)
    rows.append(dict(seed=0, n_preferences=500_000, **evaluate("consistent", cons.policy.numpy(), oracles),
                     **cons.info))
    return pd.DataFrame(rows), oracle_summary(oracles)


def test_paper_scale_acceptance(paper_scale):
    table, summary = paper_scale
    dpo, cons = table.set_index("method").loc["dpo"], table.set_index("method").loc["consistent"]
    assert dpo.argmax_abs_d <= 1 and dpo.spearman_vs_nbc >= 0.95
    assert cons.argmax_abs_d in (9, 10, 11) and cons.spearman_vs_average_reward >= 0.95
    assert cons.tv_to_optimal < dpo.tv_to_optimal
    assert cons.fraction_used == pytest.approx(summary["unanimous_fraction"], abs=0.005)
    checks = synthetic_checks(table, summary)
    assert all(c["passed"] for c in checks), checks_markdown(checks)


def test_checks_fail_when_the_effect_vanishes(paper_scale):
    table, summary = paper_scale
    broken = table.copy()
    broken.loc[broken.method == "consistent", ["argmax_abs_d", "tv_to_optimal"]] = [0, 1.0]
    failed = {c["check"] for c in synthetic_checks(broken, summary) if not c["passed"]}
    assert any("peaks at |d| ∈" in f for f in failed) and any("closer to π* than DPO" in f for f in failed)
    sweep = pd.DataFrame({"method": ["consistent"] * 2 + ["dpo"] * 2, "n_preferences": [1, 2, 1, 2],
                          "tv_to_optimal": [0.1, 0.2, 0.1, 0.2]})
    failed = {c["check"] for c in synthetic_checks(table, summary, sweep) if not c["passed"]}
    assert any("falls as n grows" in f for f in failed) and any("near its limit" in f for f in failed)
    assert "\\|d\\|" in checks_markdown(synthetic_checks(table, summary))
