"""Adapters from the real schemas to the judgement table, on the shipped fixtures, and their
bad-input errors (file, 1-based row, field, expected)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hetpref.annotators import adapters
from hetpref.annotators.sources import SourceUnavailable
from hetpref.annotators.table import CORE_COLUMNS, LABELS, AnnotatorDataError, JudgementTable, validate
from hetpref.runtime import InputError

FIXTURES = Path(adapters.__file__).resolve().parent.parent / "fixtures"
MULTIPREF = FIXTURES / "multipref" / "multipref.jsonl"


def _jsonl_rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_multipref_fixture_reads_with_both_pools_and_orientation():
    t = adapters.read("multipref", MULTIPREF)
    raw = _jsonl_rows(MULTIPREF)
    n_ann = sum(len(r["normal_worker_annotations"]) + len(r["expert_worker_annotations"]) for r in raw)
    assert len(t) == n_ann
    assert tuple(t.frame.columns[: len(CORE_COLUMNS)]) == CORE_COLUMNS
    assert set(t.frame["label"].astype(str)) <= set(LABELS)
    assert set(t.frame["worker_type"]) == {"normal", "expert"}
    # every pair judged by both pools
    assert (t.frame.groupby("pair_id")["worker_type"].nunique() == 2).all()
    # orientation: the first normal annotation of row 1 said A (model_a) slightly better or not;
    # check each judgement against the raw preference, through the response ids
    first = raw[0]
    a_pref = first["normal_worker_annotations"][0]["overall_pref"]
    who = first["normal_worker_annotations"][0]["evaluator"]
    row = t.frame[(t.frame.source_row == 1) & (t.frame.annotator_id == who)]
    winner = {"a": row.response_a_id.iloc[0], "b": row.response_b_id.iloc[0]}.get(str(row.label.iloc[0]))
    if a_pref.startswith("A-"):
        assert winner == first["model_a"]
    elif a_pref.startswith("B-"):
        assert winner == first["model_b"]
    else:
        assert winner is None
    assert t.frame.loc[t.frame.label == "tie", "strength"].eq(0).all()
    assert t.frame.loc[t.frame.label != "tie", "strength"].isin([1.0, 2.0]).all()


def test_multipref_unknown_label(tmp_path):
    rows = _jsonl_rows(MULTIPREF)
    rows[2]["expert_worker_annotations"][1]["overall_pref"] = "A-is-much-better"
    p = _write_jsonl(tmp_path / "mp.jsonl", rows)
    with pytest.raises(AnnotatorDataError) as e:
        adapters.read("multipref", p)
    msg = str(e.value)
    assert str(p) in msg and "row 3" in msg and "expert_worker_annotations[2].overall_pref" in msg
    assert "A-is-much-better" in msg and "Tie" in msg


def test_multipref_missing_field(tmp_path):
    rows = _jsonl_rows(MULTIPREF)
    del rows[1]["completion_b"]
    p = _write_jsonl(tmp_path / "mp.jsonl", rows)
    with pytest.raises(AnnotatorDataError, match=r"row 2: field 'completion_b'.*missing"):
        adapters.read("multipref", p)


def test_multipref_missing_evaluator(tmp_path):
    rows = _jsonl_rows(MULTIPREF)
    del rows[3]["normal_worker_annotations"][0]["evaluator"]
    p = _write_jsonl(tmp_path / "mp.jsonl", rows)
    with pytest.raises(AnnotatorDataError, match=r"row 4: field 'normal_worker_annotations\[1\]\.evaluator'"):
        adapters.read("multipref", p)


def test_prompt_differs_between_judgements(tmp_path):
    rows = _jsonl_rows(MULTIPREF)
    dup = json.loads(json.dumps(rows[0]))
    dup["prompt"] = "A different question altogether?"
    p = _write_jsonl(tmp_path / "mp.jsonl", [*rows, dup])
    with pytest.raises(AnnotatorDataError) as e:
        adapters.read("multipref", p)
    msg = str(e.value)
    assert f"row {len(rows) + 1}" in msg and "'prompt'" in msg and "row 1" in msg


def test_validate_annotator_without_attribute():
    t = adapters.read("multipref", MULTIPREF)
    f = t.frame.copy()
    f["worker_type"] = f["worker_type"].astype(object)
    f.loc[5, "worker_type"] = None
    bad = JudgementTable(f, t.attributes, "x.jsonl", "multipref")
    with pytest.raises(AnnotatorDataError, match=r"x\.jsonl, row \d+: field 'worker_type'.*annotator"):
        validate(bad)


def test_validate_unknown_label_in_table():
    t = adapters.read("multipref", MULTIPREF)
    f = t.frame.copy()
    f["label"] = f["label"].astype(object)
    f.loc[0, "label"] = "A"
    with pytest.raises(AnnotatorDataError, match=r"row 1: field 'label' has value 'A'; expected one of"):
        validate(JudgementTable(f, t.attributes, "x.jsonl", "multipref"))


def test_hub_id_offline_names_the_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailable) as e:
        adapters.read("multipref", "allenai/multipref")
    msg = str(e.value)
    assert "HF_HUB_OFFLINE" in msg and "train-00000-of-00001.parquet" in msg and "revision" in msg
    assert isinstance(e.value, InputError)


def test_local_parquet_and_save_to_disk_agree(tmp_path):
    import datasets

    t = adapters.read("multipref", MULTIPREF)
    raw = pd.DataFrame(_jsonl_rows(MULTIPREF))
    raw.to_parquet(tmp_path / "mp.parquet")
    datasets.Dataset.from_pandas(raw).save_to_disk(str(tmp_path / "mp_ds"))
    for src in (tmp_path / "mp.parquet", tmp_path / "mp_ds"):
        u = adapters.read("multipref", src)
        pd.testing.assert_frame_equal(u.frame.drop(columns="prompt"), t.frame.drop(columns="prompt"))


def test_unknown_adapter():
    with pytest.raises(ValueError, match="expected one of"):
        adapters.read("nope", MULTIPREF)
