"""Length diagnostics of every LM run, and the optional DPO arms that change only the
sequence score (the reference code's scoring, standard DPO against the frozen base, the per-token
mean), each checked against a hand computation on a tiny Llama."""
from __future__ import annotations

import json
import math
import runpy

import pytest
import torch

from hetpref.lm.evaluation.evaluate import (
    DLEN_BINS,
    agreement_ties_correct,
    evaluate_model,
    length_diagnostics,
    wilson_interval,
)
from hetpref.lm.evaluation.report import (
    METRICS,
    bar_interval,
    figure5,
    per_seed_table,
    summary_table,
    to_latex,
    write_report,
)
from hetpref.lm.models import add_lora, load_base_model
from hetpref.lm.names import DPO_SCORINGS, DPO_VARIANTS, objective_spec, variant_objectives
from hetpref.lm.training.config import LMTrainConfig
from hetpref.lm.training.pairs import encode_records, pair_batch
from hetpref.lm.training.scoring import (
    logits_at,
    policy_logprobs,
    reference_code_logprobs,
    sequence_logprobs,
    sequence_scores,
)
from tests.unit.test_lm_train import ROOT, TINY, _Smk, make_records, run

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- diagnostics


def test_length_diagnostics_on_a_hand_built_example():
    correct = [True, False, True, True, False, True]
    len_c = [3, 10, 5, 5, 40, 100]
    len_r = [10, 3, 5, 60, 7, 20]
    # prior (shorter wins) right on pairs 0 and 3; pair 2 has equal lengths: undecided = wrong
    d = length_diagnostics(correct, len_c, len_r)
    assert d["prior_agreement"] == pytest.approx(2 / 6)
    assert d["n_prior_wrong"] == 4 and d["agreement_prior_wrong"] == pytest.approx(2 / 4)  # pairs 1, 2, 4, 5
    assert d["n_prior_right"] == 2 and d["agreement_prior_right"] == 1.0
    # |Δ| = 7, 7, 0, 55, 33, 80
    assert (d["n_dlen_0"], d["agreement_dlen_0"]) == (1, 1.0)
    assert d["n_dlen_1_5"] == 0 and math.isnan(d["agreement_dlen_1_5"])
    assert (d["n_dlen_6_20"], d["agreement_dlen_6_20"]) == (2, 0.5)
    assert (d["n_dlen_21_50"], d["agreement_dlen_21_50"]) == (1, 0.0)
    assert (d["n_dlen_gt50"], d["agreement_dlen_gt50"]) == (2, 1.0)


def test_length_bins_edges_and_partition():
    deltas = [0, 1, 5, 6, 20, 21, 50, 51, 300]
    d = length_diagnostics([True] * len(deltas), [10] * len(deltas), [10 + x for x in deltas])
    assert [d[f"n_dlen_{k}"] for k, *_ in DLEN_BINS] == [1, 2, 2, 2, 2]
    # the chosen is never shorter... here it always is, except at Δ = 0
    assert d["prior_agreement"] == pytest.approx(8 / 9) and d["n_prior_wrong"] == 1
    with pytest.raises(ValueError, match="one entry per pair"):
        length_diagnostics([True], [1, 2], [3, 4])


def test_reference_tie_rule_counts_ties_correct():
    assert agreement_ties_correct(torch.tensor([1.0, 0.0, -1.0, float("nan")])) == pytest.approx(2 / 4)


def test_evaluate_model_reports_the_diagnostics_of_its_own_scores(tok):
    model = load_base_model("tiny", tok, "reward", "float32", TINY, seed=5)
    recs = make_records(12, seed=21)
    metrics, rows = evaluate_model(model, tok, recs, "reward")
    expected = length_diagnostics([r["correct"] for r in rows], [r["response_tokens_chosen"] for r in rows],
                                  [r["response_tokens_rejected"] for r in rows])
    for k, v in expected.items():
        assert metrics[k] == pytest.approx(v, nan_ok=True), k
    assert metrics["agreement_ties_correct"] == pytest.approx(sum(r["h"] >= 0 for r in rows) / len(rows))
    assert [r["prior_correct"] for r in rows] == [r["response_tokens_chosen"] < r["response_tokens_rejected"]
                                                  for r in rows]


# ----------------------------------------------------------------------------- scorings


def _batch(tok, n=3, seed=1):
    recs = make_records(n, seed=seed)
    recs[1]["chosen"] = " the cat runs quickly in the garden with the dog and the sun"  # lengths differ → padding
    enc = encode_records(recs, tok, 256)
    return enc, pair_batch(enc, list(range(n)), tok.pad_token_id)


def test_reference_code_scoring_equals_unshifted_gather_by_hand(tok):
    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY).eval()
    enc, (ids, attn, resp) = _batch(tok)
    assert (attn.sum(1) < attn.shape[1]).any(), "the batch must contain padding"
    with torch.no_grad():
        batched = sequence_scores(model, ids, attn, resp, "causal_lm", "reference_code")
        seqs = [enc.prompt[i] + enc.chosen[i] for i in range(3)] + [enc.prompt[i] + enc.rejected[i] for i in range(3)]
        for row, seq in enumerate(seqs):
            # by hand: one unpadded forward; position t's log-softmax at token t itself, bos and prompt included
            logits = model(input_ids=torch.tensor([seq])).logits[0].double()
            lsm = logits - torch.logsumexp(logits, -1, keepdim=True)
            hand = sum(float(lsm[t, seq[t]]) for t in range(len(seq)))
            assert batched[row].item() == pytest.approx(hand, abs=1e-4), row
            # and it is not the causal log-probability
            shifted = sum(float(lsm[t - 1, seq[t]]) for t in range(1, len(seq)))
            assert abs(hand - shifted) > 1e-2
        # the prompt's terms are the same for both responses: h is the response positions' difference
        lsm_all = torch.log_softmax(model(input_ids=ids, attention_mask=attn).logits.double(), -1)
        gathered = lsm_all.gather(2, ids.unsqueeze(-1)).squeeze(-1)
        resp_only = (gathered * resp).sum(-1)
        h = batched[:3] - batched[3:]
        assert torch.allclose(h.double(), resp_only[:3] - resp_only[3:], atol=1e-4)


@pytest.mark.parametrize("scoring", DPO_SCORINGS)
def test_head_on_the_scored_positions_is_bit_identical_to_full_logits(tok, scoring):
    """The policy score applies the LM head at the scored positions only (logits_at); scores
    and LoRA gradients must equal, bit for bit, the same formula on every position's logits."""
    torch.manual_seed(0)
    model = add_lora(load_base_model("tiny", tok, "causal_lm", "float32", TINY))
    with torch.no_grad():
        for name, w in model.named_parameters():
            if "lora_B" in name:
                w.normal_(0.0, 0.1)  # a non-zero adapter, so the gradients reach every LoRA matrix
    model.eval()  # no dropout: the two passes see the same network
    enc, (ids, attn, resp) = _batch(tok)
    weights = torch.arange(1.0, ids.shape[0] + 1)

    def full(m):  # the definitions on the full [N, T, V] logits
        logits = m(input_ids=ids, attention_mask=attn).logits
        if scoring == "reference_code":
            return reference_code_logprobs(logits, ids, attn)
        return sequence_logprobs(logits, ids, resp, "mean" if scoring == "response_mean" else "sum")

    def grads(score):
        model.zero_grad()
        (score * weights).sum().backward()
        return torch.cat([w.grad.flatten() for w in model.parameters() if w.requires_grad])

    fast, slow = policy_logprobs(model, ids, attn, resp, scoring), full(model)
    assert torch.equal(fast, slow)
    assert torch.equal(grads(policy_logprobs(model, ids, attn, resp, scoring)), grads(full(model)))
    # the fast path really ran: fewer head rows than positions
    rows = resp[:, 1:].bool()
    assert logits_at(model, ids, attn, rows, shift=1).shape == (int(rows.sum()), len(tok))
    assert int(rows.sum()) < ids.numel() / 2


def test_logits_at_other_models_computes_every_position(tok, monkeypatch):
    """A model type not known to be lm_head(hidden) goes through its own forward (scaling or
    soft-capping would be skipped otherwise); the result is the same slice of its logits."""
    import hetpref.lm.training.scoring as scoring

    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY).eval()
    enc, (ids, attn, resp) = _batch(tok)
    rows = resp[:, 1:].bool()
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        fast = logits_at(model, ids, attn, rows, shift=1)
        assert calls == []  # Llama: the backbone and the head, not the model's forward
        monkeypatch.setattr(scoring, "_HEAD_ON_HIDDEN", ())
        slow = logits_at(model, ids, attn, rows, shift=1)
    assert calls == [1]
    assert torch.equal(fast, slow)


def test_reference_code_logprobs_on_a_toy_tensor():
    logits = torch.tensor([[[0.0, 0.0, 2.0]] * 3])
    ids = torch.tensor([[0, 1, 2]])
    lsm = torch.log_softmax(torch.tensor([0.0, 0.0, 2.0]), -1)
    assert reference_code_logprobs(logits, ids, torch.tensor([[1, 1, 1]])).item() == pytest.approx(
        (lsm[0] + lsm[1] + lsm[2]).item())
    assert reference_code_logprobs(logits, ids, torch.tensor([[1, 1, 0]])).item() == pytest.approx(
        (lsm[0] + lsm[1]).item())  # padding scores nothing


def test_length_normalised_score_is_the_sum_over_the_response_length(tok):
    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY).eval()
    enc, (ids, attn, resp) = _batch(tok)
    with torch.no_grad():
        total = sequence_scores(model, ids, attn, resp, "causal_lm")
        mean = sequence_scores(model, ids, attn, resp, "causal_lm", "response_mean")
    n = torch.tensor([len(enc.chosen[i]) for i in range(3)] + [len(enc.rejected[i]) for i in range(3)])
    assert torch.allclose(mean, total / n, atol=1e-6)
    assert not torch.allclose(mean, total)
    logits = torch.randn(2, 5, 7)
    ids = torch.randint(0, 7, (2, 5))
    mask = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)  # 2 and 3 response tokens
    assert torch.allclose(sequence_logprobs(logits, ids, mask, "mean"),
                          sequence_logprobs(logits, ids, mask) / torch.tensor([2.0, 3.0]))


def test_base_reference_h_is_zero_at_init_and_the_base_after_training(tok, tmp_path):
    model = add_lora(load_base_model("tiny", tok, "causal_lm", "float32", TINY, seed=0), 8, 32, 0.1, "causal_lm")
    recs = make_records(6, seed=3)
    metrics, rows = evaluate_model(model, tok, recs, "causal_lm", scoring="base_reference")
    assert all(r["h"] == 0.0 and r["score_chosen"] == 0.0 for r in rows)  # adapter zero-init: policy = reference
    assert metrics["agreement"] == 0 and metrics["agreement_ties_correct"] == 1.0
    assert "response_nll_per_token" not in metrics  # not log π(y|x) under this scoring

    records = make_records(8)
    res = run(tok, tmp_path, "base", records=records, lr=2e-2, dpo_scoring="base_reference")
    assert res.metrics["loss_history"][0] == pytest.approx(math.log(2), abs=1e-7)  # h = 0 at step 0
    assert res.provenance["config"]["train"]["dpo_scoring"] == "base_reference"
    # after training: score = log π(y|x) − log π_base(y|x), the base rebuilt independently of the adapter
    from hetpref.lm.models import load_adapter

    trained, _ = load_adapter(res.adapter_dir, tok)
    base = load_base_model("tiny", tok, "causal_lm", "float32", TINY, seed=0).eval()
    enc = encode_records(records, tok, 128)
    ids, attn, resp = pair_batch(enc, list(range(4)), tok.pad_token_id)
    with torch.no_grad():
        got = sequence_scores(trained.eval(), ids, attn, resp, "causal_lm", "base_reference")
        policy = sequence_scores(trained, ids, attn, resp, "causal_lm")
        ref = sequence_scores(base, ids, attn, resp, "causal_lm")
    assert torch.allclose(got, policy - ref, atol=1e-4)
    assert got.abs().max() > 1e-3  # training moved the policy away from the base


def test_base_reference_needs_a_peft_model(tok):
    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY)
    _, (ids, attn, resp) = _batch(tok)
    with pytest.raises(ValueError, match="peft"):
        sequence_scores(model, ids, attn, resp, "causal_lm", "base_reference")


def test_scoring_config_is_validated():
    with pytest.raises(ValueError, match="dpo_scoring"):
        LMTrainConfig(dpo_scoring="unshifted")
    assert set(DPO_SCORINGS) >= {s for _, s in DPO_VARIANTS.values()}
    assert objective_spec("dpo_ref") == ("causal_lm", "reference_code", None)
    assert objective_spec("ipo") == ("causal_lm", "response_sum", "ipo")
    assert variant_objectives(["length_normalised", "base_reference"]) == ["dpo_norm", "dpo_base"]
    with pytest.raises(ValueError, match="not one of"):
        variant_objectives(["reference"])
    with pytest.raises(ValueError, match="objective must be one of"):
        objective_spec("dpo_unknown")


def test_reward_model_refuses_a_dpo_scoring(tok, tmp_path):
    with pytest.raises(ValueError, match="applies to policies"):
        run(tok, tmp_path, "rm", "reward", dpo_scoring="response_mean")


def test_workflow_scripts_train_and_evaluate_a_variant_with_its_scoring(tok_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, recs in (("anonymous", make_records(6)), ("test", make_records(5, seed=3, prefix="t"))):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    run_dir = tmp_path / "runs" / "dpo_base" / "anonymous" / "seed0"
    wc = {"objective": "dpo_base", "dataset": "anonymous", "seed": "0"}
    out = tmp_path / "eval.json"
    smk = _Smk(tmp_path / "train.log", wc,
               {"model": "tiny", "tiny": TINY,
                "train": {"lr": 1e-2, "checkpoint_every": 0, "max_length": 128, "dpo_scoring": "base_reference"},
                # lm_eval_params gives the objective's scoring
                "eval": {"max_length": 128, "scoring": "base_reference"},
                "device": "cpu", "processes": 1},  # every param the rule passes
               {"train": str(data / "anonymous.jsonl"), "tokenizer": str(tok_dir), "test": str(data / "test.jsonl")},
               {"adapter": str(run_dir / "adapter"), "metrics": str(run_dir / "metrics.json"),
                "provenance": str(run_dir / "provenance.json"), "test_metrics": str(out),
                "test_scores": str(tmp_path / "eval.csv")})
    runpy.run_path(str(ROOT / "workflow_scripts" / "lm_train.py"), init_globals={"snakemake": smk})
    assert json.loads((run_dir / "metrics.json").read_text())["loss_history"][0] == pytest.approx(math.log(2))
    m = json.loads(out.read_text())
    assert m["objective"] == "dpo_base" and m["scoring"] == "base_reference"
    assert {"prior_agreement", "agreement_prior_wrong", "n_prior_wrong", "agreement_ties_correct"} <= set(m)
    header = (tmp_path / "eval.csv").read_text().splitlines()[0]
    assert header == "id,h,correct,response_tokens_chosen,response_tokens_rejected,prior_correct"


# ----------------------------------------------------------------------------- report


def _runs_with_diagnostics():
    out = []
    for obj in ("reward", "dpo", "dpo_norm"):
        for ds, base in (("anonymous", 0.6), ("unanimous", 0.7)):
            for seed in (0, 1, 2):
                r = {"objective": obj, "dataset": ds, "seed": seed, "agreement": base + 0.01 * seed, "n": 100,
                     "agreement_ties_correct": base + 0.01 * seed + 0.02, "prior_agreement": 0.7,
                     "agreement_prior_wrong": base - 0.3 + 0.02 * seed, "n_prior_wrong": 30}
                for k, *_ in DLEN_BINS:
                    r[f"agreement_dlen_{k}"], r[f"n_dlen_{k}"] = 0.5, 20
                if obj != "reward":
                    r["shorter_wins_agreement"] = 0.7
                out.append(r)
    return out


def test_seed_table_summary_and_figure_carry_the_diagnostics(tmp_path):
    import pandas as pd

    runs = _runs_with_diagnostics()
    table = write_report(runs, tmp_path / "t.csv", tmp_path / "t.tex", tmp_path / "fig5.pdf",
                         out_summary=tmp_path / "s.csv", out_png=tmp_path / "fig5.png")
    assert len(table) == 6 * len(METRICS)  # one row per (objective, dataset, metric)
    csv = pd.read_csv(tmp_path / "t.csv")
    row = csv[(csv.objective == "dpo") & (csv.dataset == "unanimous") & (csv.metric == "agreement_prior_wrong")].iloc[0]
    assert [row[f"seed {s}"] for s in (0, 1, 2)] == pytest.approx([40.0, 42.0, 44.0])
    assert row["mean"] == pytest.approx(42.0) and row["n_pairs"] == 30 and math.isnan(row["paper mean"])
    agree = csv[(csv.objective == "dpo") & (csv.dataset == "unanimous") & (csv.metric == "agreement")].iloc[0]
    assert agree["paper mean"] == pytest.approx(71.676)
    # the agreement rows keep the layout of the table without diagnostics
    assert list(csv[csv.metric == "agreement"]["objective"]) == ["reward", "reward", "dpo", "dpo", "dpo_norm",
                                                                 "dpo_norm"]
    s = pd.read_csv(tmp_path / "s.csv").set_index(["objective", "dataset"])
    assert len(s) == 6
    assert s.loc[("dpo_norm", "anonymous"), "prior_wrong_mean"] == pytest.approx(0.32)
    assert s.loc[("dpo_norm", "anonymous"), "prior_wrong_ci_low"] < 0.32 < s.loc[("dpo_norm", "anonymous"),
                                                                                  "prior_wrong_ci_high"]
    assert s.loc[("dpo", "anonymous"), "prior_agreement"] == pytest.approx(0.7)
    assert s.loc[("dpo", "anonymous"), "n_prior_wrong"] == 30
    assert s.loc[("dpo", "anonymous"), "ties_correct_mean"] == pytest.approx(0.63)
    assert "where the prior is wrong" in to_latex(per_seed_table(runs))
    assert (tmp_path / "fig5.pdf").read_bytes()[:4] == b"%PDF"
    assert len(summary_table(runs)) == 6


def test_wilson_interval_stays_inside_0_and_1():
    assert wilson_interval(5, 10) == pytest.approx((0.5, 0.2366, 0.7634), abs=1e-4)  # the textbook 5 of 10
    share, lo, hi = wilson_interval(0, 10)
    assert share == lo == 0.0 and hi == pytest.approx(3.8415 / 13.8415, abs=1e-4)  # z² / (n + z²)
    share, lo, hi = wilson_interval(10, 10)
    assert share == hi == 1.0 and lo == pytest.approx(10 / 13.8415, abs=1e-4)
    assert all(0 <= b <= 1 for k in range(31) for b in wilson_interval(k, 30)[1:])
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_figure5b_bars_are_pooled_shares_with_wilson_intervals(tmp_path):
    """Panel (b): three seeds at 96, 100, 100 % of 25 pairs: a t-interval would run past 100 %;
    the share over the 75 pooled pairs (73 right) and its Wilson interval do not."""
    shares, n = [0.96, 1.0, 1.0], [25, 25, 25]
    assert bar_interval(shares)[2] > 100  # the t-interval of the seeds' mean
    height, lo, hi = bar_interval(shares, n)
    assert height == pytest.approx(100 * 74 / 75) and lo < height <= hi <= 100
    assert (lo, hi) == pytest.approx(tuple(100 * v for v in wilson_interval(74, 75)[1:]))
    runs = []
    for obj in ("reward", "dpo"):
        for ds in ("anonymous", "unanimous"):
            for seed, s in enumerate(shares):
                runs.append({"objective": obj, "dataset": ds, "seed": seed, "agreement": 0.9,
                             "agreement_prior_wrong": s, "n_prior_wrong": n[seed]})
    fig = figure5(runs)
    panel_b = fig.axes[1]
    assert "Wilson" in panel_b.get_title()
    tops = [seg[:, 1].max() for c in panel_b.containers if getattr(c, "errorbar", None) is not None
            for seg in c.errorbar.lines[2][0].get_segments()]
    assert len(tops) == 4 and max(tops) <= 100 and min(tops) == pytest.approx(hi)
