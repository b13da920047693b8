"""The own-data workflow's steps as library calls (the scripts in ``workflow_scripts/own_data_*.py``
only pass the rule's files and params): the views of the training annotators turned into training
records, plus the held-out judgements (:func:`prepare`), and the report of every run (:func:`write_report`)."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import pandas as pd

from ..lm.data.jsonl import write_jsonl
from ..runtime import InputError
from .evaluate import split_annotators
from .train import (
    LABEL_PREFIX,
    LOSSES,
    VarianceConfig,
    anonymous_records,
    corrected_records,
    fit_variance_model,
    per_type_labels,
    prompt_text,
    unanimous_records,
)

log = logging.getLogger("hetpref.annotators.pipeline")

# the judgement columns the held-out evaluation reads
TEST_COLUMNS = ("pair_id", "annotator_id", "prompt", "response_a", "response_b", "label")


def read_source(adapter: str, source, options: dict | None = None):
    """The judgement table of ``source`` read by ``adapter``; ``source`` None reads the adapter's
    shipped fixture (the generic one with the column options it needs)."""
    from .adapters import read, read_fixture

    if source is None:
        log.info("own_data.source is null: reading the shipped %s fixture", adapter)
        return read_fixture(adapter, **(options or {}))
    return read(adapter, source, **(options or {}))


def _view(name: str, loss: str | None, fn, *args, **kwargs):
    """A view, or one clear error naming the loss that needs it when the data cannot support it."""
    from .views import ViewRefused

    try:
        return fn(*args, **kwargs)
    except ViewRefused as exc:
        if loss is None:
            raise
        raise InputError(f"{exc} — own_data.losses lists {loss!r}, which trains on the {name}: remove it from "
                         "own_data.losses for these data") from exc


def prepare(table, out: dict, type_attribute: str, losses, views: dict, evaluation: dict, variance: dict,
            model: str, vocab_size: int = 500) -> dict:
    """Split the annotators, build The views of the training annotators, write one JSONL of training
    records per loss (``out[loss]``), the held-out judgements (``out["test"]``, prompts as text) and
    the per-type view of the test annotators (``out["test_per_type"]``, CSV; empty with a logged reason
    when the test annotators cannot support it), the split (``out["split"]``), the Eq. 19 fit
    (``out["variance"]``), the tokenizer folder (``out["tokenizer"]``: trained on the training texts
    for ``tiny``, else the model's own) and a summary (``out["summary"]``). Returns the summary."""
    from . import views as V
    from .views import ViewRefused

    unknown = [x for x in losses if x not in LOSSES]
    if unknown:
        raise InputError(f"own_data.losses: unknown loss {unknown[0]!r}; expected some of {', '.join(LOSSES)}")
    train, test, split = split_annotators(table, type_attribute, evaluation["test_share"], evaluation["seed"])
    split.to_csv(out["split"], index=False)
    # the tokenizer first: a chat model's own template renders conversational prompts (prompt_text)
    tokenizer = _tokenizer(model, train, out["tokenizer"], vocab_size)
    train, test = render_prompts(train, tokenizer), render_prompts(test, tokenizer)
    seed, multiple, missing = views["seed"], views["multiple"], views["missing"]
    summary = {"dataset": table.dataset, "source": table.source, "type_attribute": type_attribute,
               "n_judgements": len(table.frame), "n_train_judgements": len(train.frame),
               "n_test_judgements": len(test.frame), "n_train_annotators": int((split["split"] == "train").sum()),
               "n_test_annotators": int((split["split"] == "test").sum()), "losses": list(losses), "records": {}}
    anon = None
    if "dpo" in losses or "corrected_dpo" in losses:
        anon = _view("anonymous view", "dpo" if "dpo" in losses else "corrected_dpo", V.anonymous_view, train,
                     seed=seed)
    if "dpo" in losses:
        records = anonymous_records(anon)
        write_jsonl(out["dpo"], records)
        summary["records"]["dpo"] = len(records)
    if "consistent" in losses:
        per = _view("per-type view", "consistent", V.per_type_view, train, type_attribute, multiple=multiple,
                    missing=missing, seed=seed)
        records, k = unanimous_records(per, train)
        write_jsonl(out["consistent"], records)
        summary["records"]["consistent"] = len(records)
        summary.update(n_types=k, n_per_type_pairs=len(per))
    info = {}
    if "corrected_dpo" in losses:
        same = _view("same-annotator pairs view", "corrected_dpo", V.same_annotator_pairs, train, seed=seed)
        vm = fit_variance_model(same, train, VarianceConfig(**variance))
        records = corrected_records(anon, vm, train)
        write_jsonl(out["corrected_dpo"], records)
        v = pd.Series([r["variance"] for r in records])
        info = {**vm.info, "variance_mean": float(v.mean()), "variance_max": float(v.max())}
        summary["records"]["corrected_dpo"] = len(records)
    Path(out["variance"]).write_text(json.dumps(info, indent=2, default=float) + "\n")
    for loss in LOSSES:  # a loss left out still gets its (empty) declared file
        if loss not in losses:
            Path(out[loss]).write_text("")

    test_frame = test.frame[[*TEST_COLUMNS, type_attribute]].copy()
    test_frame["label"] = test_frame["label"].astype(str)
    write_jsonl(out["test"], test_frame.to_dict("records"))
    try:
        test_per = V.per_type_view(test, type_attribute, multiple=multiple, missing=missing, seed=seed)
        labels = per_type_labels(test_per, test)  # relative to (response_a, response_b), as the scores
        cols = [c for c in test_per.columns if str(c).startswith(LABEL_PREFIX)]
        pd.DataFrame(labels, columns=cols).assign(pair_id=test_per["pair_id"].to_numpy())[
            ["pair_id", *cols]].to_csv(out["test_per_type"], index=False)
        summary["n_test_per_type_pairs"] = len(test_per)
    except ViewRefused as exc:  # reported, not fatal: the per-type figures stand without it
        log.warning("held-out unanimous pairs: none (%s); the unanimous agreement is reported as NaN", exc)
        Path(out["test_per_type"]).write_text("pair_id\n")
        summary["n_test_per_type_pairs"] = 0
    Path(out["summary"]).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _tokenizer(model: str, train, out_dir, vocab_size: int):
    """The run's tokenizer, saved in ``out_dir``: for ``tiny`` a BPE trained on the training texts,
    else the model's own (as published; loaded back with a pad token)."""
    from ..lm.data.tokenization import load_tokenizer, train_tiny_tokenizer
    from ..lm.names import TINY_SPEC

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if model == TINY_SPEC:
        f = train.frame.drop_duplicates("pair_id")
        texts = [prompt_text(p) for p in f["prompt"]] + f["response_a"].tolist() + f["response_b"].tolist()
        train_tiny_tokenizer(texts, out_dir, vocab_size)
    else:
        load_tokenizer(model, pad=False).save_pretrained(str(out_dir))
    return load_tokenizer(model, out_dir)


def render_prompts(table, tokenizer=None):
    """The table with every prompt as the text the trainer tokenises (:func:`prompt_text`), rendered
    once per pair."""
    f = table.frame
    first = f.drop_duplicates("pair_id")
    text = dict(zip(first["pair_id"], (prompt_text(p, tokenizer) for p in first["prompt"])))
    return dataclasses.replace(table, frame=f.assign(prompt=f["pair_id"].map(text)))


# ----------------------------------------------------------------------------- report

REPORT_COLUMNS = ("loss", "seed", "agreement_all", "prior_all", "worst_type", "worst_type_agreement",
                  "prior_worst_type", "agreement_unanimous", "prior_unanimous", "n_unanimous", "final_loss")


def _fmt(x) -> str:
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.3f}"
    return str(x)


def write_report(evaluations: list[dict], summary: dict, variance: dict, md_path, csv_path,
                 inspect=None) -> pd.DataFrame:
    """One row per run (:data:`REPORT_COLUMNS` + each type's agreement and prior) in CSV, and a
    markdown report: the data and views (with a link to the diagnostics report ``inspect``, if
    given), then agreement on held-out annotators beside the "longer response wins" prior."""
    types = list(evaluations[0]["types"]) if evaluations else []
    cols = [*REPORT_COLUMNS, *[f"{w}_{t}" for t in types for w in ("agreement", "prior", "n")]]
    rows = pd.DataFrame([{c: e.get(c, float("nan")) for c in cols} for e in evaluations], columns=cols)
    rows = rows.sort_values(["loss", "seed"], key=lambda s: s.map(LOSSES.index) if s.name == "loss" else s)
    rows.to_csv(csv_path, index=False)
    lines = [f"# Own annotator data: {summary['dataset']} ({Path(summary['source']).name})", "",
             f"{summary['n_judgements']} judgements; annotators split by seed into {summary['n_train_annotators']} "
             f"for training ({summary['n_train_judgements']} judgements) and {summary['n_test_annotators']} held out "
             f"({summary['n_test_judgements']} judgements). Types: `{summary['type_attribute']}` = "
             f"{', '.join(map(str, types))}.", "",
             "Training records per loss: " + ", ".join(f"{k} {v}" for k, v in summary["records"].items()) + ".",
             ""]
    if evaluations:
        scoring = evaluations[0].get("dpo_scoring", "response_sum")
        reference = "the frozen base (standard DPO)" if scoring == "base_reference" else "uniform (h from log π(y|x))"
        lines += [f"Model `{evaluations[0].get('model')}` with LoRA; reference: {reference}.", ""]
    if inspect is not None:
        rel = Path(inspect).resolve().relative_to(Path(md_path).resolve().parent)
        lines += [f"Diagnostics of the whole data set (feasibility per setting, agreement, NBC vs average reward): "
                  f"[{rel}]({rel}).", ""]
    if "n_types" in summary:
        lines += [f"The consistent loss (docs/spec.md §4, Eq. 20) uses k = {summary['n_types']} on the unanimous pairs "
                  f"of the per-type view. It targets the average reward only because the types are fixed annotator "
                  f"attributes; k labels from random anonymous raters filtered for unanimity bring back DPO's "
                  "NBC target.", ""]
    if variance:
        lines += [f"Corrected DPO's V̂ (Eq. 19): {variance['config']['latent_types']} latent types fitted on "
                  f"{variance['n_fit_pairs']} same-annotator pairs; mean V̂ {variance['variance_mean']:.4f}, "
                  f"max {variance['variance_max']:.4f}."
                  + (" V̂ ≈ 0 on every pair: corrected DPO is DPO here (up to the stable-log floor); the "
                     "same-annotator pairs show no disagreement the latent types need."
                     if variance["variance_max"] < 1e-4 else ""), ""]
    head = ["loss", "seed", "all (prior)", *[f"{t} (prior)" for t in types], "worst type", "unanimous (prior, n)"]
    lines += ["## Agreement on held-out annotators", "",
              "Share of held-out judgements the model agrees with (h > 0 for the preferred response; ties in "
              "the scores count as wrong, tie judgements are left out). In brackets: the length prior \"the "
              "longer response wins\" on the same judgements. A loss shows something beyond length where it "
              "beats the prior; the worst type is the type the model serves least.", "",
              "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for _, r in rows.iterrows():
        cells = [r["loss"], str(int(r["seed"])), f"{_fmt(r['agreement_all'])} ({_fmt(r['prior_all'])})",
                 *[f"{_fmt(r[f'agreement_{t}'])} ({_fmt(r[f'prior_{t}'])})" for t in types],
                 f"{r['worst_type']} {_fmt(r['worst_type_agreement'])}",
                 f"{_fmt(r['agreement_unanimous'])} ({_fmt(r['prior_unanimous'])}, {int(r['n_unanimous'])})"]
        lines.append("| " + " | ".join(cells) + " |")
    Path(md_path).write_text("\n".join(lines) + "\n")
    return rows
