"""MultiPref (``allenai/multipref``): one row per prompt and pair of completions, each judged by
normal crowdworkers and by domain experts.

Fields read: ``prompt_id``, ``prompt``, ``model_a``, ``completion_a``, ``model_b``, ``completion_b``, and
the lists ``normal_worker_annotations`` / ``expert_worker_annotations`` of dicts with ``evaluator`` and
the 5-point ``overall_pref``. Each annotation becomes one judgement; the annotator attribute
``worker_type`` is the pool (``normal`` / ``expert``). ``overall_pref`` maps to the label and a strength:
``A-is-clearly-better`` -> (a, 2), ``A-is-slightly-better`` -> (a, 1), ``Tie`` -> (tie, 0), and the B
mirror images. Response ids are the model names (``A``/``B`` appended when both models are the same).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sources import ROW, HubSpec, load, require
from ..table import AnnotatorDataError, JudgementTable, make_table

HUB = HubSpec("allenai/multipref", "12910233a0238a997ebe425656e9dfed7b0ff031",
              ("data/train-00000-of-00001.parquet",))
POOLS = {"normal_worker_annotations": "normal", "expert_worker_annotations": "expert"}
OVERALL_PREF = {"A-is-clearly-better": ("a", 2.0), "A-is-slightly-better": ("a", 1.0), "Tie": ("tie", 0.0),
                "B-is-slightly-better": ("b", 1.0), "B-is-clearly-better": ("b", 2.0)}
TOP = ("prompt_id", "prompt", "model_a", "completion_a", "model_b", "completion_b")


def _annotations(raw: pd.DataFrame, column: str, source: str) -> pd.DataFrame:
    """Explode one annotation-list column into one row per annotation (row, position, evaluator, pref)."""
    col = raw[[ROW, column]].copy()
    ex = col.explode(column, ignore_index=True).dropna(subset=[column])
    if not len(ex):
        return pd.DataFrame(columns=[ROW, "evaluator", "overall_pref", "_field"])
    ex["_k"] = ex.groupby(ROW).cumcount() + 1
    not_dict = ~ex[column].map(type).eq(dict).to_numpy()
    if not_dict.any():
        i = not_dict.argmax()
        raise AnnotatorDataError(source, int(ex[ROW].iloc[i]), f"{column}[{int(ex['_k'].iloc[i])}]",
                                 ex[column].iloc[i], "an annotation object with 'evaluator' and 'overall_pref'")
    fields = pd.DataFrame.from_records(ex[column].tolist(), columns=["evaluator", "overall_pref"])
    fields[ROW] = ex[ROW].to_numpy()
    fields["_field"] = column + "[" + ex["_k"].astype(str).to_numpy() + "]"
    fields["worker_type"] = POOLS[column]
    return fields


def read(source) -> JudgementTable:
    """Read MultiPref from a local file/folder or the hub id; see the module docstring."""
    raw, name = load(source, HUB)
    require(raw, TOP, name)
    for column in POOLS:
        if column not in raw.columns:
            raise AnnotatorDataError(name, int(raw[ROW].iloc[0]) if len(raw) else None, column, None,
                                     "a list of annotations (the field is missing)")
    ann = pd.concat([_annotations(raw, c, name) for c in POOLS], ignore_index=True)
    for fld in ("evaluator", "overall_pref"):
        bad = ann[fld].isna().to_numpy()
        if bad.any():
            i = bad.argmax()
            raise AnnotatorDataError(name, int(ann[ROW].iloc[i]), f"{ann['_field'].iloc[i]}.{fld}", None,
                                     "a value (the field is missing)")
    known = ann["overall_pref"].isin(list(OVERALL_PREF)).to_numpy()
    if not known.all():
        i = (~known).argmax()
        raise AnnotatorDataError(name, int(ann[ROW].iloc[i]), f"{ann['_field'].iloc[i]}.overall_pref",
                                 ann["overall_pref"].iloc[i], f"one of {list(OVERALL_PREF)}")
    ann["label"] = ann["overall_pref"].map({k: v[0] for k, v in OVERALL_PREF.items()})
    ann["strength"] = ann["overall_pref"].map({k: v[1] for k, v in OVERALL_PREF.items()})
    top = raw[[ROW, *TOP]]
    same = (top["model_a"].astype(str) == top["model_b"].astype(str)).to_numpy()
    top = top.assign(response_a_id=np.where(same, top["model_a"].astype(str) + "/A", top["model_a"].astype(str)),
                     response_b_id=np.where(same, top["model_b"].astype(str) + "/B", top["model_b"].astype(str)))
    f = ann.merge(top, on=ROW, how="left", validate="many_to_one")
    f = f.rename(columns={"completion_a": "response_a", "completion_b": "response_b", "evaluator": "annotator_id",
                          ROW: "source_row"})
    f["prompt_id"] = f["prompt_id"].astype(str)
    f["annotator_id"] = f["annotator_id"].astype(str)
    return make_table(f, ("worker_type",), name, "multipref")
