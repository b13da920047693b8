"""The LM trainer's three loss paths for own annotator data (docs/spec.md §4): DPO, the consistent
loss with k types, and corrected DPO with a per-pair V̂ carried by the records through the
collator into ``hetpref.losses.preference_loss``. Tiny Llama, a few steps."""
from __future__ import annotations

import pytest
import torch

import hetpref.lm.training.trainer as lm_trainer
from hetpref.lm.training.config import LMTrainConfig, loss_for
from hetpref.lm.training.pairs import PairCollator, encode_records
from hetpref.losses import preference_loss
from tests.unit.test_lm_train import make_records, run

torch.set_num_threads(1)


def test_corrected_dpo_config_and_loss_for():
    assert loss_for("causal_lm", "anonymous", LMTrainConfig(loss="corrected_dpo", correction_alpha=2.0)) == \
        ("corrected_dpo", {"alpha": 2.0, "correction_clamp": 0.1})
    assert loss_for("causal_lm", "anonymous", LMTrainConfig(loss="corrected_dpo", correction_clamp=None))[1] == \
        {"alpha": 1.0, "correction_clamp": None}
    assert loss_for("causal_lm", "unanimous", LMTrainConfig(n_types=2)) == ("consistent", {"n_types": 2})
    with pytest.raises(ValueError, match="correction_alpha must be ≥ 0"):
        LMTrainConfig(loss="corrected_dpo", correction_alpha=-1.0)
    with pytest.raises(ValueError, match="correction_clamp must be > 0 or null"):
        LMTrainConfig(loss="corrected_dpo", correction_clamp=0.0)


def test_collator_carries_the_variance_of_each_kept_pair(tok):
    records = make_records(5)
    for i, r in enumerate(records):
        r["variance"] = 0.01 * (i + 1)
    enc = encode_records(records, tok, 128)
    batch = PairCollator(enc, tok.pad_token_id)([3, 0])
    assert torch.allclose(batch["variance"], torch.tensor([0.04, 0.01]))
    plain = encode_records(make_records(3), tok, 128)  # no variance field: no variance in the batch
    assert plain.variance is None and "variance" not in PairCollator(plain, tok.pad_token_id)([0, 1])


@pytest.mark.parametrize("dataset,loss,extra,want", [
    ("anonymous", None, {}, ("dpo", {})),
    ("unanimous", None, {"n_types": 2}, ("consistent", {"n_types": 2})),
    ("anonymous", "corrected_dpo", {"correction_alpha": 0.5, "correction_clamp": 0.05},
     ("corrected_dpo", {"alpha": 0.5, "correction_clamp": 0.05})),
])
def test_each_loss_path_calls_the_one_definition(monkeypatch, tok, tmp_path, dataset, loss, extra, want):
    records = make_records(4)
    variance = {r["id"]: 0.02 * (i + 1) for i, r in enumerate(records)}
    if loss == "corrected_dpo":
        for r in records:
            r["variance"] = variance[r["id"]]
    real, seen = lm_trainer.preference_loss, []

    def spy(name, h, **params):
        seen.append((name, {k: v for k, v in params.items() if k != "variance"}, params.get("variance"), h.detach()))
        return real(name, h, **params)

    monkeypatch.setattr(lm_trainer, "preference_loss", spy)
    res = run(tok, tmp_path, f"{dataset}-{loss}", "dpo", dataset, records=records, loss=loss, **extra)
    assert res.metrics["loss"] == want[0] and seen
    for name, params, v, h in seen:
        assert (name, params) == want
        if loss == "corrected_dpo":
            assert v is not None and v.shape == h.shape and bool((v > 0).all())
            assert set(torch.round(v * 50).long().tolist()) <= {1, 2, 3, 4}  # the records' own values
            # the loss the trainer got is the library's corrected DPO at α = 0.5 on that V̂
            assert torch.allclose(real(name, h, variance=v, **params),
                                  preference_loss("corrected_dpo", h, variance=v, alpha=0.5, correction_clamp=0.05))
        else:
            assert v is None
    assert all(torch.isfinite(torch.tensor(res.metrics["loss_history"])))


def test_corrected_dpo_without_variance_is_one_clear_error(tok, tmp_path):
    with pytest.raises(ValueError, match="needs a 'variance' field"):
        run(tok, tmp_path, "no-variance", "dpo", "anonymous", records=make_records(4), loss="corrected_dpo")


def test_corrected_dpo_is_finite_at_an_lms_large_h():
    """Summed log-probabilities make |h| of an LM reach hundreds of nats: the correction must stay
    finite there (V = 0: no correction, not 0·∞), with a finite gradient; unchanged for small |h|."""
    h = torch.tensor([-300.0, -90.0, -5.0, 0.3, 90.0, 300.0], requires_grad=True)
    for v in (0.0, 0.1):
        loss = preference_loss("corrected_dpo", h, variance=torch.full_like(h, v), alpha=1.0)
        loss.sum().backward()
        assert bool(torch.isfinite(loss).all()) and bool(torch.isfinite(h.grad).all()), (v, loss, h.grad)
        h.grad = None
    small = torch.tensor([-2.0, 0.5, 3.0])
    s = torch.sigmoid(small)
    want = -torch.log((s + 0.5 * (1 - 2 * s) * 0.05 / (s * (1 - s))).clamp(1e-6, 1 - 1e-6))
    assert torch.allclose(preference_loss("corrected_dpo", small, variance=torch.full_like(small, 0.05)), want)


def test_score_pairs_scores_as_trained(tok):
    """Held-out scoring: h = score(a) − score(b) with the run's scoring; against the frozen base
    (base_reference) a fresh LoRA (B = 0) is the base itself, so every h is 0: a tie, counted wrong."""
    from types import SimpleNamespace

    import pandas as pd

    from hetpref.annotators.evaluate import heldout_metrics, score_pairs
    from hetpref.lm.models import add_lora, load_base_model
    from tests.unit.test_lm_train import TINY

    recs = make_records(6)
    frame = pd.DataFrame({"pair_id": [r["id"] for r in recs], "prompt": [r["prompt"] for r in recs],
                          "response_a": [r["chosen"] for r in recs], "response_b": [r["rejected"] for r in recs],
                          "label": "a", "group": ["x", "y"] * 3})
    table = SimpleNamespace(frame=frame)
    model = add_lora(load_base_model("tiny", tok, "causal_lm", "float32", TINY, seed=0), 8, 32, 0.0, "causal_lm")
    uniform = score_pairs(model, tok, table, max_length=128)
    enc = encode_records(recs, tok, 128)
    from hetpref.lm.evaluation.evaluate import pair_scores

    s_a, s_b = pair_scores(model, enc, "causal_lm", tok.pad_token_id)
    assert torch.allclose(torch.tensor(uniform["h"].to_numpy()), (s_a - s_b).double(), atol=1e-5)
    assert (uniform["tokens_a"] >= uniform["tokens_b"]).all()  # chosen is the longer response here
    base = score_pairs(model, tok, table, scoring="base_reference", max_length=128)
    assert (base["h"].abs() < 1e-5).all()
    m = heldout_metrics(table, base.assign(h=0.0), "group")
    assert m["agreement_all"] == 0.0 and m["n_all"] == 6
