"""Evaluation on held-out annotators: a trained model's agreement with the judgements of people it
never saw, per type, with the length prior beside each figure (as Figure 5's diagnostics,
:mod:`hetpref.lm.evaluation.evaluate`).

The annotators (not the pairs) are split into train and test by a seed (:func:`split_annotators`),
within each value of the type attribute, so every type keeps annotators on both sides. A pair may be
judged by train and test annotators alike: what is held out is the people.

A model scores each test pair once, ``h = score(response_a) − score(response_b)`` with the scoring it
was trained with (:func:`score_pairs`; ``log π(y|x)`` for the uniform reference, the implicit reward
against the frozen base for ``base_reference``). It agrees with a judgement ``a`` when h > 0, with
``b`` when h < 0; h = 0 is wrong (as in :mod:`hetpref.lm.evaluation.evaluate`); tie judgements are not counted
(their number is reported). Reported (:func:`heldout_metrics`):

- ``agreement_<type>``: agreement with the test judgements of annotators of that type;
  ``worst_type_agreement`` (and ``worst_type``): the lowest of them; ``agreement_all``: all test judgements;
- ``unanimous_agreement``: agreement with the label of held-out unanimous pairs (every type's test
  annotators labelled the pair, all alike: the per-type view of the test table);
- beside each, the **length prior** "the longer response wins" (``prior_<…>``: its agreement with the
  same judgements; equal lengths count as wrong) and the model's agreement where that prior is wrong
  (``agreement_prior_wrong_<…>``): the figures :func:`hetpref.lm.evaluation.evaluate.length_diagnostics` computes,
  with the prior reversed (real annotators tend to prefer longer answers; the paper's length types
  made "shorter wins" the prior). Lengths are response tokens of the model's tokenizer.

Empty subsets give NaN with their ``n_…`` = 0, never an error.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from ..lm.evaluation.evaluate import evaluate_model, evaluate_trained, length_diagnostics
from ..runtime import InputError
from .train import LABEL_PREFIX, prompt_text

log = logging.getLogger("hetpref.annotators.evaluate")


def split_annotators(table, type_attribute: str, test_share: float = 0.3, seed: int = 0):
    """(train table, test table, split frame ``annotator_id, <type_attribute>, split``): a seeded
    share of each type's annotators held out (at least one per type that has two or more)."""
    if not 0 < test_share < 1:
        raise InputError(f"own_data.evaluation.test_share must be in (0, 1), got {test_share!r}")
    if type_attribute not in table.attributes:
        raise InputError(f"type attribute {type_attribute!r} is not an annotator attribute of {table.source} "
                         f"(attributes: {list(table.attributes)})")
    ann = table.annotators()[["annotator_id", type_attribute]].sort_values("annotator_id", kind="stable")
    rng = np.random.default_rng(seed)
    ann = ann.assign(_u=rng.random(len(ann)))
    rank = ann.groupby(type_attribute, sort=True)["_u"].rank(method="first")
    size = ann.groupby(type_attribute)["_u"].transform("size")
    # at least one annotator of each type on each side of the split
    n_test = np.where(size >= 2, np.clip(np.round(test_share * size), 1, size - 1), 0)
    ann["split"] = np.where(rank <= n_test, "test", "train")
    test_ids = set(ann.loc[ann["split"] == "test", "annotator_id"])
    is_test = table.frame["annotator_id"].isin(test_ids).to_numpy()
    if not is_test.any() or is_test.all():
        raise InputError(f"{table.source}: the annotator split leaves {int(is_test.sum())} of {len(is_test)} "
                         f"judgements for testing; need some on each side: a type needs 2 or more annotators to "
                         f"hold one out (per-type annotator counts: {ann.groupby(type_attribute).size().to_dict()})")
    parts = [dataclasses.replace(table, frame=table.frame.loc[m].reset_index(drop=True)) for m in (~is_test, is_test)]
    for name, part in zip(("train", "test"), parts):
        log.info("%s: %d annotators, %d judgements", name, part.frame["annotator_id"].nunique(), len(part.frame))
    return parts[0], parts[1], ann.drop(columns="_u").reset_index(drop=True)


def _pair_records(table) -> list[dict]:
    """One scoring record per pair of ``table``: response a as ``chosen``, b as ``rejected``."""
    pairs = table.frame.drop_duplicates("pair_id")
    return pd.DataFrame({"id": pairs["pair_id"].astype(str).to_numpy(),
                         "prompt": [prompt_text(p) for p in pairs["prompt"]],
                         "chosen": pairs["response_a"].to_numpy(),
                         "rejected": pairs["response_b"].to_numpy()}).to_dict("records")


def _pair_frame(metrics: dict, rows: list[dict], n_pairs: int) -> pd.DataFrame:
    if metrics["n_dropped"]:
        log.warning("evaluation: %d of %d test pairs over max_length tokens left out", metrics["n_dropped"], n_pairs)
    return pd.DataFrame({"pair_id": [r["id"] for r in rows], "h": [r["h"] for r in rows],
                         "tokens_a": [r["response_tokens_chosen"] for r in rows],
                         "tokens_b": [r["response_tokens_rejected"] for r in rows]})


def score_pairs(model, tokenizer, table, kind: str = "causal_lm", scoring: str = "response_sum",
                max_length: int = 512, batch_size: int = 8, device="cpu", add_eos: bool = True) -> pd.DataFrame:
    """One row per pair of ``table``: ``pair_id``, ``h`` = score(a) − score(b), ``tokens_a``,
    ``tokens_b`` (response tokens, eos included), scored by
    :func:`hetpref.lm.evaluation.evaluate.evaluate_model` (identical scored responses give h = 0).
    Pairs over ``max_length`` are dropped and logged."""
    records = _pair_records(table)
    metrics, rows = evaluate_model(model, tokenizer, records, kind, max_length, "drop", add_eos, batch_size, device,
                                   scoring)
    return _pair_frame(metrics, rows, len(records))


def score_trained(result, run, tokenizer, table, batch_size: int = 8) -> pd.DataFrame:
    """:func:`score_pairs` of what ``run`` trained (``result`` of
    :func:`hetpref.lm.training.launch.run_job`), scored as it was trained, through
    :func:`hetpref.lm.evaluation.evaluate.evaluate_trained` (the model in memory, or the saved
    adapter after torchrun)."""
    records = _pair_records(table)
    metrics, rows = evaluate_trained(result, run, tokenizer, records, max_length=run.train.max_length,
                                     overlength="drop", add_eos=run.train.add_eos, batch_size=batch_size)
    return _pair_frame(metrics, rows, len(records))


def _block(correct: np.ndarray, len_win: np.ndarray, len_lose: np.ndarray, suffix: str) -> dict:
    """Agreement, the longer-wins prior and the agreement where that prior is wrong, on one subset."""
    n = len(correct)
    # length_diagnostics' prior is "chosen shorter": passing the lengths swapped makes it "longer wins"
    d = length_diagnostics(correct, len_lose, len_win) if n else {}
    nan = float("nan")
    return {f"agreement_{suffix}": float(correct.mean()) if n else nan, f"n_{suffix}": int(n),
            f"prior_{suffix}": d.get("prior_agreement", nan),
            f"agreement_prior_wrong_{suffix}": d.get("agreement_prior_wrong", nan),
            f"n_prior_wrong_{suffix}": d.get("n_prior_wrong", 0)}


def heldout_metrics(test_table, scores: pd.DataFrame, type_attribute: str,
                    per_type: pd.DataFrame | None = None) -> dict:
    """The metrics of the module docstring from a model's pair ``scores`` (:func:`score_pairs`) on the
    test annotators' judgements; ``per_type``: the per-type labels of the test table relative to
    (response_a, response_b), ``pair_id`` + ``label_<type>`` (None or empty: unanimous figures NaN)."""
    j = test_table.frame[["pair_id", "label", type_attribute]].merge(scores, on="pair_id", how="inner")
    label = j["label"].astype(str).to_numpy()
    decided = label != "tie"
    out = {"n_test_judgements": int(len(test_table.frame)), "n_tie_judgements": int((~decided).sum()),
           "n_scored_judgements": int(decided.sum())}
    j, label = j.loc[decided], label[decided]
    a_wins = label == "a"
    h = j["h"].to_numpy()
    correct = np.where(a_wins, h > 0, h < 0)
    la, lb = j["tokens_a"].to_numpy(), j["tokens_b"].to_numpy()
    win, lose = np.where(a_wins, la, lb), np.where(a_wins, lb, la)
    out.update(_block(correct, win, lose, "all"))
    types = sorted(test_table.frame[type_attribute].astype(str).unique())
    t_of = j[type_attribute].astype(str).to_numpy()
    for t in types:
        m = t_of == t
        out.update(_block(correct[m], win[m], lose[m], str(t)))
    per = {t: out[f"agreement_{t}"] for t in types if out[f"n_{t}"] > 0}
    worst = min(per, key=per.get) if per else None
    out.update(types=types, worst_type=worst, worst_type_agreement=per[worst] if worst else float("nan"),
               prior_worst_type=out[f"prior_{worst}"] if worst else float("nan"))
    out.update(_unanimous(per_type, scores))
    return out


def _unanimous(per_type: pd.DataFrame | None, scores: pd.DataFrame) -> dict:
    """Agreement on the unanimous pairs of ``per_type``: ``pair_id`` and ``label_<type>`` columns
    relative to (response_a, response_b) (:func:`hetpref.annotators.train.per_type_labels`)."""
    empty = np.zeros(0, dtype=bool)
    if per_type is None or not len(per_type):
        return _block(empty, empty, empty, "unanimous")
    cols = [c for c in per_type.columns if str(c).startswith(LABEL_PREFIX)]
    labels = per_type[cols].to_numpy(dtype=float, na_value=np.nan)
    all_a, all_b = (labels == 1).all(axis=1), (labels == -1).all(axis=1)
    u = per_type.loc[all_a | all_b, ["pair_id"]].assign(a_wins=all_a[all_a | all_b]).merge(scores, on="pair_id")
    a_wins = u["a_wins"].to_numpy(dtype=bool)
    h = u["h"].to_numpy()
    la, lb = u["tokens_a"].to_numpy(), u["tokens_b"].to_numpy()
    return _block(np.where(a_wins, h > 0, h < 0), np.where(a_wins, la, lb), np.where(a_wins, lb, la), "unanimous")
