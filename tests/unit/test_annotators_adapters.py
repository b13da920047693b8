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


# --- Community Alignment -------------------------------------------------------------------------

CA = FIXTURES / "community_alignment" / "community_alignment.csv"


def test_community_alignment_best_of_4_expands_to_3_pairs_per_turn():
    t = adapters.read("community_alignment", CA)
    raw = pd.read_csv(CA)
    turns = raw["first_turn_preferred_response"].notna().sum() + raw["second_turn_preferred_response"].notna().sum()
    assert len(t) == 3 * turns
    assert "annotator_country" in t.attributes and "annotator_age" in t.attributes
    f = t.frame
    # the preferred response wins every one of its 3 pairs
    for i, row in raw.iterrows():
        pref = row["first_turn_response_" + row["first_turn_preferred_response"][-1]]
        mine = f[(f.source_row == i + 1) & f.prompt.map(lambda p: isinstance(p, str))]
        assert len(mine) == 3
        winners = mine.response_a.where(mine.label.astype(str) == "a", mine.response_b)
        assert (winners == pref).all()
    # a later turn is a conversation ending in this turn's prompt
    conv = f[f.prompt.map(lambda p: isinstance(p, list))]
    assert len(conv) == 6
    assert all(p[-1]["role"] == "user" and p[1]["role"] == "assistant" for p in conv.prompt)
    # shared pre-generated prompts: >= 3 responses per prompt, judged by several annotators
    first = f[f.prompt.map(lambda p: isinstance(p, str))]
    per_prompt = first.groupby("prompt_id").apply(lambda g: len(set(g.response_a_id) | set(g.response_b_id)))
    assert (per_prompt == 4).all()
    assert (first.groupby("prompt_id").annotator_id.nunique() >= 3).all()


def test_community_alignment_unknown_label(tmp_path):
    raw = pd.read_csv(CA)
    raw.loc[3, "first_turn_preferred_response"] = "response_e"
    raw.to_csv(tmp_path / "ca.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"ca\.csv, row 4: field 'first_turn_preferred_response' has value "
                       r"'response_e'; expected one of \['response_a'"):
        adapters.read("community_alignment", tmp_path / "ca.csv")


def test_community_alignment_missing_preferred_text(tmp_path):
    raw = pd.read_csv(CA)
    raw.loc[2, "first_turn_response_b"] = None  # row 3 preferred response_b
    raw.to_csv(tmp_path / "ca.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"row 3: field 'first_turn_response_b'.*preferred response"):
        adapters.read("community_alignment", tmp_path / "ca.csv")


def test_community_alignment_named_attribute_missing(tmp_path):
    raw = pd.read_csv(CA)
    raw.loc[4, "annotator_political"] = None
    raw.to_csv(tmp_path / "ca.csv", index=False)
    # by default the incomplete column is left out (and logged) ...
    assert "annotator_political" not in adapters.read("community_alignment", tmp_path / "ca.csv").attributes
    # ... named, it is required for every annotator
    with pytest.raises(AnnotatorDataError, match=r"row 5: field 'annotator_political'.*annotator 'ann-203'"):
        adapters.read("community_alignment", tmp_path / "ca.csv", attributes=["annotator_political"])


# --- collective-alignment-1 ----------------------------------------------------------------------

CA1 = FIXTURES / "collective_alignment" / "comparisons.jsonl"


def _rank(ranking):
    """Letter -> position group (0 best) of a ranking string, written independently of the adapter."""
    return {x: k for k, grp in enumerate(ranking.split(">")) for x in grp.split("=")}


def test_collective_alignment_rankings_expand_into_all_pairs_with_ties():
    t = adapters.read("collective_alignment", CA1)
    f = t.frame
    raw = _jsonl_rows(CA1)
    n = sum(len(_rank(a["ranking_blocks"]["world"][0]["ranking"])) * (len(_rank(a["ranking_blocks"]["world"][0]
            ["ranking"])) - 1) // 2 for r in raw for a in r["metadata"]["assessments"])
    assert len(f) == n
    for r_i, rec in enumerate(raw, start=1):
        for a in rec["metadata"]["assessments"]:
            pos = _rank(a["ranking_blocks"]["world"][0]["ranking"])
            mine = f[(f.source_row == r_i) & (f.annotator_id == a["annotator_id"])]
            for _, j in mine.iterrows():
                x, y = j.response_a_id, j.response_b_id
                want = "a" if pos[x] < pos[y] else "b" if pos[x] > pos[y] else "tie"
                assert j.label == want
                text = {resp["response_index"]: resp["messages"][0]["content"] for resp in rec["responses"]}
                assert j.response_a == text[x] and j.response_b == text[y]
    assert (f.label.astype(str) == "tie").any()
    assert set(t.attributes) == {"country_of_residence", "age_group", "gender"}
    personal = adapters.read("collective_alignment", CA1, block="personal")
    assert len(personal) < len(t)


def test_collective_alignment_bad_ranking(tmp_path):
    rows = _jsonl_rows(CA1)
    rows[1]["metadata"]["assessments"][1]["ranking_blocks"]["world"][0]["ranking"] = "A>B>E"
    p = _write_jsonl(tmp_path / "comparisons.jsonl", rows)
    (tmp_path / "annotators.jsonl").write_text((CA1.parent / "annotators.jsonl").read_text())
    with pytest.raises(AnnotatorDataError) as e:
        adapters.read("collective_alignment", p)
    assert "row 2: field 'metadata.assessments[2].ranking_blocks.world[1].ranking' has value 'A>B>E'" in str(e.value)


def test_collective_alignment_annotator_without_attributes(tmp_path):
    p = tmp_path / "comparisons.jsonl"
    p.write_text(CA1.read_text())
    people = _jsonl_rows(CA1.parent / "annotators.jsonl")
    _write_jsonl(tmp_path / "annotators.jsonl", [x for x in people if x["annotator_id"] != "rater-03"])
    with pytest.raises(AnnotatorDataError, match=r"row 2: field 'metadata\.assessments\[2\]\.annotator_id' has value "
                       r"'rater-03'; expected an annotator listed in"):
        adapters.read("collective_alignment", p)


def test_collective_alignment_needs_annotators_file(tmp_path):
    p = tmp_path / "comparisons.jsonl"
    p.write_text(CA1.read_text())
    with pytest.raises(AnnotatorDataError, match=r"annotators\.jsonl.*beside the comparisons file"):
        adapters.read("collective_alignment", p)


# --- PRISM ---------------------------------------------------------------------------------------

PRISM = FIXTURES / "prism" / "utterances.jsonl"


def test_prism_pairs_by_score_with_tie_margin_and_survey():
    t = adapters.read("prism", PRISM)
    raw = pd.DataFrame(_jsonl_rows(PRISM))
    sizes = raw.groupby("interaction_id").size()
    assert len(t) == int((sizes * (sizes - 1) // 2).sum())
    f = t.frame
    score = {(r.interaction_id, f"{r.within_turn_id}:{r.model_name}"): r.score for r in raw.itertuples()}
    for j in f.itertuples():
        d = score[(j.prompt_id, j.response_a_id)] - score[(j.prompt_id, j.response_b_id)]
        assert j.label == ("a" if d > 0 else "b" if d < 0 else "tie") and j.strength == abs(d)
    assert "gender" in t.attributes and "location.reside_country" in t.attributes
    assert (f.label.astype(str) == "tie").sum() == 1
    wide = adapters.read("prism", PRISM, tie_margin=20)
    assert (wide.frame.label.astype(str) == "tie").sum() > 1
    later = f[f.prompt.map(lambda p: isinstance(p, list))]
    assert len(later) == 2 and all(p[-1]["role"] == "user" and len(p) == 3 for p in later.prompt)


def test_prism_user_not_in_survey(tmp_path):
    p = tmp_path / "utterances.jsonl"
    p.write_text(PRISM.read_text())
    people = _jsonl_rows(PRISM.parent / "survey.jsonl")
    _write_jsonl(tmp_path / "survey.jsonl", [x for x in people if x["user_id"] != "user0002"])
    with pytest.raises(AnnotatorDataError, match=r"row 7: field 'user_id' has value 'user0002'; expected a "
                       r"participant listed in"):
        adapters.read("prism", p)


def test_prism_participant_twice_in_survey(tmp_path):
    p = tmp_path / "utterances.jsonl"
    p.write_text(PRISM.read_text())
    people = _jsonl_rows(PRISM.parent / "survey.jsonl")
    _write_jsonl(tmp_path / "survey.jsonl", people + people[:1])
    with pytest.raises(AnnotatorDataError, match=rf"row {len(people) + 1}: field 'user_id' has value .*; expected one "
                       r"survey row per participant \(this id appears earlier\)"):
        adapters.read("prism", p)


def test_prism_bad_score(tmp_path):
    rows = _jsonl_rows(PRISM)
    rows[4]["score"] = "great"
    p = _write_jsonl(tmp_path / "utterances.jsonl", rows)
    with pytest.raises(AnnotatorDataError, match=r"row 5: field 'score' has value 'great'"):
        adapters.read("prism", p, survey=PRISM.parent / "survey.jsonl")


# --- HelpSteer3 ----------------------------------------------------------------------------------

HS3 = FIXTURES / "helpsteer3" / "preference.jsonl"


def test_helpsteer3_individual_entries_are_anonymous_judgements():
    t = adapters.read("helpsteer3", HS3)
    raw = _jsonl_rows(HS3)
    assert len(t) == sum(len(r["individual_preference"]) for r in raw)
    assert t.anonymous_only and t.attributes == ()
    assert t.frame.annotator_id.is_unique
    for j in t.frame.itertuples():
        rec = raw[j.source_row - 1]
        k = int(j.annotator_id.rsplit(":", 1)[1])
        s = rec["individual_preference"][k - 1]["score"]
        winner = {"a": j.response_a, "b": j.response_b}.get(str(j.label))
        assert winner == (rec["response1"] if s < 0 else rec["response2"] if s > 0 else None)
        assert j.strength == abs(s)
    assert isinstance(t.frame.prompt.iloc[0], str) and isinstance(t.frame.prompt[t.frame.source_row == 2].iloc[0],
                                                                   list)
    assert len(adapters.read("helpsteer3", HS3, use="overall")) == len(raw)


def test_helpsteer3_unknown_score(tmp_path):
    rows = _jsonl_rows(HS3)
    rows[2]["individual_preference"][1]["score"] = 5
    p = _write_jsonl(tmp_path / "hs3.jsonl", rows)
    with pytest.raises(AnnotatorDataError, match=r"row 3: field 'individual_preference\[2\]\.score' has value 5"):
        adapters.read("helpsteer3", p)


# --- generic -------------------------------------------------------------------------------------

GENERIC = FIXTURES / "generic" / "judgements.csv"
GENERIC_OPTIONS = dict(columns={"prompt_id": "question_id", "prompt": "question", "response_a": "answer_1",
                                "response_b": "answer_2", "annotator_id": "rater", "label": "winner",
                                "strength": "confidence"},
                       labels={"1": "a", "2": "b", "0": "tie"}, attributes=["rater_group"])


def test_generic_maps_named_columns():
    t = adapters.read("generic", GENERIC, **GENERIC_OPTIONS)
    raw = pd.read_csv(GENERIC)
    assert len(t) == len(raw)
    for j in t.frame.itertuples():
        r = raw.iloc[j.source_row - 1]
        winner = {"a": j.response_a, "b": j.response_b}.get(str(j.label))
        assert winner == {1: r.answer_1, 2: r.answer_2, 0: None}[r.winner]
        assert j.rater_group == r.rater_group and j.strength == r.confidence


def test_generic_reads_jsonl_and_parquet_alike(tmp_path):
    raw = pd.read_csv(GENERIC)
    raw.to_json(tmp_path / "j.jsonl", orient="records", lines=True)
    raw.to_parquet(tmp_path / "j.parquet")
    t = adapters.read("generic", GENERIC, **GENERIC_OPTIONS).frame
    for p in (tmp_path / "j.jsonl", tmp_path / "j.parquet"):
        pd.testing.assert_frame_equal(adapters.read("generic", p, **GENERIC_OPTIONS).frame, t)


def test_generic_unknown_label_and_missing_column(tmp_path):
    raw = pd.read_csv(GENERIC)
    raw.loc[6, "winner"] = 3
    raw.to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"g\.csv, row 7: field 'winner' has value 3; expected one of"):
        adapters.read("generic", tmp_path / "g.csv", **GENERIC_OPTIONS)
    raw = pd.read_csv(GENERIC).drop(columns="rater")
    raw.to_csv(tmp_path / "h.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"h\.csv, row 1: field 'rater'.*missing"):
        adapters.read("generic", tmp_path / "h.csv", **GENERIC_OPTIONS)


def test_generic_annotator_without_attribute_and_changing_attribute(tmp_path):
    raw = pd.read_csv(GENERIC)
    raw.loc[9, "rater_group"] = None
    raw.to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"row 10: field 'rater_group'.*missing"):
        adapters.read("generic", tmp_path / "g.csv", **GENERIC_OPTIONS)
    raw = pd.read_csv(GENERIC)
    raw.loc[9, "rater_group"] = "retirees"  # r3 is a student elsewhere
    raw.to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(AnnotatorDataError, match=r"field 'rater_group' has value 'retirees'; expected the same "
                       r"attribute 'rater_group' as the first judgement of annotator_id 'r3'"):
        adapters.read("generic", tmp_path / "g.csv", **GENERIC_OPTIONS)


def test_every_adapter_registered():
    assert set(adapters.ADAPTERS) == {"multipref", "community_alignment", "collective_alignment", "prism",
                                      "helpsteer3", "generic"}


@pytest.mark.parametrize("name", ["community_alignment", "collective_alignment", "helpsteer3"])
def test_hub_id_without_pinned_revision_offline_names_the_file(monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = {"community_alignment": "facebook/community-alignment-dataset",
           "collective_alignment": "openai/collective-alignment-1", "helpsteer3": "nvidia/HelpSteer3"}[name]
    with pytest.raises(SourceUnavailable, match=r"Without network, download https://huggingface\.co/datasets/"):
        adapters.read(name, hub)


@pytest.mark.parametrize("name", sorted(adapters.FIXTURE_FILES))
def test_each_shipped_fixture_reads(name):
    opts = adapters.GENERIC_FIXTURE_OPTIONS if name == "generic" else {}
    t = adapters.read(name, adapters.fixture(name), **opts)
    assert 10 <= len(t) <= 40 and t.dataset == name
    assert t.annotators()["annotator_id"].is_unique


def test_hub_connection_error_names_the_file(monkeypatch):
    import datasets

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SourceUnavailable) as e:
        adapters.read("prism", "HannahRoseKirk/prism-alignment")
    assert "ConnectionError: no route to host" in str(e.value) and "utterances.jsonl" in str(e.value)


def test_local_file_errors(tmp_path):
    with pytest.raises(AnnotatorDataError, match=r"expected an existing file"):
        adapters.read("multipref", tmp_path / "nope" / "multipref.jsonl")
    bad = tmp_path / "mp.jsonl"
    bad.write_text(MULTIPREF.read_text().splitlines()[0] + "\n\n{not json\n")
    with pytest.raises(AnnotatorDataError, match=r"mp\.jsonl, row 3: field '\(line\)'.*one JSON object per line"):
        adapters.read("multipref", bad)
