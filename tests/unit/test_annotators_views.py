"""The three views of a judgement table: their tie / several-judgements / missing-type rules, the
orientation of per-type labels, and the refusals with counts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hetpref.annotators import adapters, views
from hetpref.annotators.table import AnnotatorDataError, make_table
from hetpref.annotators.views import EmptyViewError, ViewRefused

FIXTURES = Path(adapters.__file__).resolve().parent.parent / "fixtures"


def _table(rows, dataset="generic", anonymous_only=False):
    """rows: (prompt_id, a_id, b_id, annotator, type, label)."""
    f = pd.DataFrame([{"prompt_id": p, "prompt": f"question {p}", "response_a_id": a, "response_b_id": b,
                       "response_a": f"answer {a}", "response_b": f"answer {b}", "annotator_id": u, "kind": k,
                       "label": lab, "source_row": i + 1} for i, (p, a, b, u, k, lab) in enumerate(rows)])
    return make_table(f, ("kind",), "t.csv", dataset, anonymous_only=anonymous_only)


def _multipref():
    return adapters.read("multipref", FIXTURES / "multipref" / "multipref.jsonl")


def test_a_strength_that_is_not_a_number_is_refused_naming_its_row():
    f = _table([("p", "x", "y", "u1", "k1", "a")]).frame.assign(strength="strong", source_row=7)
    with pytest.raises(AnnotatorDataError, match=r"row 7: field 'strength' has value 'strong'; expected a number"):
        make_table(f, ("kind",), "t.csv", "generic")


# --- anonymous -----------------------------------------------------------------------------------

def test_anonymous_view_one_judgement_per_pair_in_trl_format():
    t = _multipref()
    v = views.anonymous_view(t, seed=3)
    assert v["pair_id"].is_unique and {"prompt", "chosen", "rejected", "annotator_id", "worker_type"} <= set(v)
    f = t.frame.set_index(["pair_id", "annotator_id"])
    for r in v.itertuples():
        j = f.loc[(r.pair_id, r.annotator_id)]
        j = j.iloc[0] if isinstance(j, pd.DataFrame) else j
        assert str(j.label) in ("a", "b")
        win, lose = (j.response_a, j.response_b) if j.label == "a" else (j.response_b, j.response_a)
        assert (r.chosen, r.rejected) == (win, lose)
    pd.testing.assert_frame_equal(v, views.anonymous_view(t, seed=3))
    others = [views.anonymous_view(t, seed=s)["annotator_id"].tolist() for s in range(8)]
    assert len({tuple(o) for o in others}) > 1  # the seed picks the judgement


def test_anonymous_view_ties():
    t = _table([("p", "x", "y", "u1", "k1", "tie"), ("p", "x", "y", "u2", "k2", "a"),
                ("q", "x", "y", "u1", "k1", "tie")])
    r = views.anonymous_view(t, tie="resample")
    assert r["pair_id"].tolist() == ["p|x|y"] and r["chosen"].iloc[0] == "answer x"
    kept = set()
    for s in range(12):  # tie="drop": pair q (a tie only) always goes; p goes when its tie is the one sampled
        try:
            kept.add(len(views.anonymous_view(t, tie="drop", seed=s)))
        except EmptyViewError:
            kept.add(0)
    assert kept == {0, 1}
    only_ties = _table([("p", "x", "y", "u1", "k1", "tie"), ("q", "x", "y", "u2", "k2", "tie")])
    with pytest.raises(EmptyViewError, match=r"2 pairs, 2 of 2 judgements are ties"):
        views.anonymous_view(only_ties)


# --- same-annotator pairs ------------------------------------------------------------------------

def test_same_annotator_pairs_are_disjoint_and_of_different_pairs():
    t = _multipref()
    v = views.same_annotator_pairs(t, seed=1)
    assert (v.pair_id_1 != v.pair_id_2).all()
    used = pd.concat([v[["annotator_id", "pair_id_1"]].set_axis(["a", "p"], axis=1),
                      v[["annotator_id", "pair_id_2"]].set_axis(["a", "p"], axis=1)])
    assert not used.duplicated().any()  # each judgement at most once
    f = t.frame.set_index(["annotator_id", "pair_id"])
    value = {"a": 1, "b": -1, "tie": 0}
    for r in v.itertuples():
        assert value[str(f.loc[(r.annotator_id, r.pair_id_1), "label"])] == r.label_1
        assert value[str(f.loc[(r.annotator_id, r.pair_id_2), "label"])] == r.label_2
    assert set(v.label_1) | set(v.label_2) <= {1, -1}  # ties dropped by default
    per = t.frame[t.frame.label.astype(str) != "tie"].groupby("annotator_id").size()
    assert len(v) == int((per // 2).sum())
    kept = views.same_annotator_pairs(t, tie="keep")
    assert len(kept) >= len(v) and 0 in set(kept.label_1) | set(kept.label_2)


def test_same_annotator_pairs_empty_and_refused():
    t = _table([("p", "x", "y", "u1", "k1", "a"), ("q", "x", "y", "u2", "k2", "b")])
    with pytest.raises(EmptyViewError, match=r"2 annotators, none with 2 or more"):
        views.same_annotator_pairs(t)
    hs3 = adapters.read("helpsteer3", FIXTURES / "helpsteer3" / "preference.jsonl")
    with pytest.raises(ViewRefused) as e:
        views.same_annotator_pairs(hs3)
    msg = str(e.value)
    assert f"{len(hs3)} judgements of 5 pairs carry {len(hs3)} distinct annotator ids, 0 of which" in msg
    assert "anonymous view" in msg


# --- per-type ------------------------------------------------------------------------------------

ROWS = [
    # pair p|x|y: k1 says a, a, b (majority a; 'drop' loses k1); k2 says a
    ("p", "x", "y", "u1", "k1", "a"), ("p", "x", "y", "u2", "k1", "a"), ("p", "x", "y", "u3", "k1", "b"),
    ("p", "x", "y", "u4", "k2", "a"),
    # pair p|x|z: every type says b -> chosen is z, labels +1
    ("p", "x", "z", "u1", "k1", "b"), ("p", "x", "z", "u4", "k2", "b"),
    # pair q|x|y: k1 tie, k2 a
    ("q", "x", "y", "u1", "k1", "tie"), ("q", "x", "y", "u4", "k2", "a"),
    # pair q|y|z: only k2
    ("q", "y", "z", "u4", "k2", "a"),
]


def test_per_type_majority_orientation_and_unanimity():
    v = views.per_type_view(_table(ROWS), "kind").set_index("pair_id")
    assert v.attrs["types"] == ["k1", "k2"]
    assert list(v.index) == ["p|x|y", "p|x|z", "q|x|y"]  # q|y|z has no k1 label: dropped
    assert (v.loc["p|x|y", ["label_k1", "label_k2"]] == [1, 1]).all() and v.loc["p|x|y", "unanimous"]
    assert v.loc["p|x|z", "chosen"] == "answer z" and v.loc["p|x|z", "rejected"] == "answer x"
    assert (v.loc["p|x|z", ["label_k1", "label_k2"]] == [1, 1]).all() and v.loc["p|x|z", "unanimous"]
    assert v.loc["q|x|y", "label_k1"] == 0 and not v.loc["q|x|y", "unanimous"]


def test_per_type_rules_drop_sample_tie_missing():
    t = _table(ROWS)
    drop = views.per_type_view(t, "kind", multiple="drop")
    assert "p|x|y" not in set(drop.pair_id)  # k1 disagreed there
    samples = {views.per_type_view(t, "kind", multiple="sample", seed=s).set_index("pair_id").loc["p|x|y",
                                                                                                  "label_k1"]
               for s in range(12)}
    assert samples == {1, -1}
    no_ties = views.per_type_view(t, "kind", tie="drop")
    assert "q|x|y" not in set(no_ties.pair_id)
    keep = views.per_type_view(t, "kind", missing="keep").set_index("pair_id")
    assert pd.isna(keep.loc["q|y|z", "label_k1"]) and keep.loc["q|y|z", "label_k2"] == 1
    assert keep.loc["q|y|z", "unanimous"]  # under missing="keep": every labelled type agrees
    with pytest.raises(ValueError, match="expected one of"):
        views.per_type_view(t, "kind", multiple="vote")


def test_per_type_refusals_with_counts():
    one = _table([("p", "x", "y", "u1", "k1", "a"), ("q", "x", "y", "u2", "k1", "b")])
    with pytest.raises(ViewRefused, match=r"'kind' has one value only \('k1', all 2 annotators\)"):
        views.per_type_view(one, "kind")
    apart = _table([("p", "x", "y", "u1", "k1", "a"), ("q", "x", "y", "u2", "k2", "b")])
    with pytest.raises(ViewRefused, match=r"no pair has a label from every type.*2 pairs by the number.*1 type\(s\): "
                       r"2 pairs"):
        views.per_type_view(apart, "kind")
    with pytest.raises(ViewRefused, match=r"not an annotator attribute"):
        views.per_type_view(apart, "colour")
    prism = adapters.read("prism", FIXTURES / "prism" / "utterances.jsonl")
    with pytest.raises(ViewRefused, match=r"in PRISM each prompt is written and judged by one participant: 20 pairs, "
                       r"0 judged by 2 or more annotators"):
        views.per_type_view(prism, "gender")
    hs3 = adapters.read("helpsteer3", FIXTURES / "helpsteer3" / "preference.jsonl")
    with pytest.raises(ViewRefused, match=r"NBC"):
        views.per_type_view(hs3, "anything")


def test_per_type_docstring_states_identification_caveat():
    doc = " ".join(views.per_type_view.__doc__.split())
    assert "FIXED types" in doc and "NBC" in doc and "HelpSteer3" in doc


@pytest.mark.parametrize("name,path,attr", [
    ("multipref", "multipref/multipref.jsonl", "worker_type"),
    ("community_alignment", "community_alignment/community_alignment.csv", "annotator_country"),
    ("collective_alignment", "collective_alignment/comparisons.jsonl", "country_of_residence"),
])
def test_fixtures_support_every_view(name, path, attr):
    t = adapters.read(name, FIXTURES / path)
    assert len(views.anonymous_view(t)) >= 3
    assert len(views.same_annotator_pairs(t)) >= 3
    v = views.per_type_view(t, attr)
    assert len(v) >= 3 and v["unanimous"].any() and not v["unanimous"].all()
    assert np.isin(v[[c for c in v if c.startswith("label_")]].to_numpy(dtype=float), [-1, 0, 1]).all()
