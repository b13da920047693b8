"""Pew survey I/O: real .sav files written with pyreadstat, read back by hetpref.pew.reader."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyreadstat = pytest.importorskip("pyreadstat")

from hetpref.pew.demo import EV_OPTIONS, EV_TEXT, TYPE_NAMES, write_demo_counts_csv, write_demo_wave
from hetpref.pew.reader import (
    METADATA_PREFIXES,
    SurveyFileError,
    is_question_column,
    read_counts_table,
    read_wave,
    skipped_table,
)

# Bytes 92..108 of an SPSS header are the creation date ("dd Mon yy") and time ("hh:mm:ss").
SAV_TIMESTAMP = slice(92, 109)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("pew") / "ATP W128.sav"
    desc = write_demo_wave(path, wave_number=128, seed=0)
    questions, skipped, info = read_wave(path)
    return path, desc, questions, skipped, info


def _write_sav(path, columns: dict, value_labels=None):
    pyreadstat.write_sav(pd.DataFrame(columns), str(path), variable_value_labels=value_labels or {})
    return path


# ------------------------------------------------------------------ demo wave round trip


def test_demo_wave_round_trip_questions_and_skips(demo):
    path, desc, questions, skipped, info = demo
    assert [q.name for q in questions] == desc["expected_kept"]
    assert {s.name: s.reason for s in skipped} == desc["expected_skipped"]
    assert {s.reason for s in skipped} == {"all_refused", "too_few_options", "too_few_answers", "non_numeric"}
    assert all(s.detail and s.wave == "W128" for s in skipped)
    # every question column of the file is accounted for, none of the metadata/demographics
    assert len(questions) + len(skipped) == len(desc["questions"])
    for q in questions:
        assert is_question_column(q.name) and not q.name.startswith(METADATA_PREFIXES)
        assert len(q.options) >= 3 and q.n_respondents / len(q.options) >= 100
        assert q.text == desc["texts"][q.name]
        assert q.wave == "W128"

    raw, _ = pyreadstat.read_sav(str(path))
    assert info["file"] == str(path)
    assert info["wave"] == "W128"
    assert info["n_respondents_total"] == len(raw) == 3000
    assert info["n_dropped_type"] == int((raw["F_PARTYSUM_FINAL"] == 99).sum()) > 0
    assert info["n_dropped_weight"] == 0
    assert info["n_questions"] == len(questions) and info["n_skipped"] == len(skipped)
    assert info["type_names"] == TYPE_NAMES

    table = skipped_table(skipped)
    assert list(table.columns) == ["wave", "question", "reason", "detail"]
    assert len(table) == len(skipped)


def _nbc_and_average_reward(counts):
    """Independent tiny NBC (uniform μ, BT pairwise) and r̄ from weighted counts (MATH.md §6)."""
    p = counts.sum(axis=1) / counts.sum()  # type shares p(u)
    choice = counts / counts.sum(axis=1, keepdims=True)
    r = np.log(choice)
    r -= r.mean(axis=1, keepdims=True)
    r_bar = p @ r
    n = counts.shape[1]
    nbc = np.zeros(n)
    for a in range(n):
        for b in range(n):  # uniform μ, b = a included (contributes ½)
            nbc[a] += sum(p[u] / (1 + np.exp(-(r[u, a] - r[u, b]))) for u in range(len(p))) / n
    return nbc, r_bar, p


def test_ev_question_read_and_nbc_disagrees_with_average_reward(demo):
    _, desc, questions, _, _ = demo
    ev = next(q for q in questions if q.name == desc["ev_question"] == "EVCAR2_W128")
    assert ev.text == EV_TEXT
    assert ev.options == EV_OPTIONS and ev.codes == [1.0, 2.0, 3.0, 4.0]
    assert ev.type_names == TYPE_NAMES and ev.counts.shape == (3, 4)
    nbc, r_bar, p = _nbc_and_average_reward(ev.counts)
    assert ev.options[int(np.argmax(nbc))] == "Not too likely"
    assert ev.options[int(np.argmax(r_bar))] == "Not at all likely"
    # shares close to the paper's Rep 45% / Dem 48% / other 7%
    np.testing.assert_allclose(p, [0.45, 0.48, 0.07], atol=0.04)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ev_discrepancy_holds_for_other_seeds(tmp_path, seed):
    path = write_demo_wave(tmp_path / "ev.sav", 130, seed=seed, n_questions=0)["path"]
    (ev,) = [q for q in read_wave(path)[0] if q.name == "EVCAR2_W130"]
    nbc, r_bar, _ = _nbc_and_average_reward(ev.counts)
    assert (int(np.argmax(nbc)), int(np.argmax(r_bar))) == (2, 3)


def test_weighted_counts_equal_independent_pandas_computation(demo):
    path, desc, questions, _, _ = demo
    raw, _ = pyreadstat.read_sav(str(path))
    raw = raw[raw["F_PARTYSUM_FINAL"].notna() & (raw["F_PARTYSUM_FINAL"] != 99) & (raw["WEIGHT_W128"] > 0)]
    for q in questions:
        sub = raw[raw[q.name].notna() & (raw[q.name] != 99)]
        expected = (
            sub.groupby(["F_PARTYSUM_FINAL", q.name])["WEIGHT_W128"].sum().unstack(fill_value=0.0)
            .reindex(index=[1.0, 2.0, 9.0], columns=q.codes, fill_value=0.0)
        )
        np.testing.assert_allclose(q.counts, expected.to_numpy(), rtol=1e-12, atol=1e-9, err_msg=q.name)
        assert q.n_respondents == len(sub) == len(q.type_idx) == len(q.answer_idx) == len(q.weight)
        # respondent-level arrays rebuild the counts
        rebuilt = np.zeros_like(q.counts)
        np.add.at(rebuilt, (q.type_idx, q.answer_idx), q.weight)
        np.testing.assert_allclose(rebuilt, q.counts)
        if desc["kinds"][q.name] == "form2":
            assert set(sub["FORM_W128"]) == {2.0}


# ------------------------------------------------------------------ determinism


def test_same_seed_same_file_different_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.sav", tmp_path / "b.sav", tmp_path / "c.sav"
    da = write_demo_wave(a, 35, seed=7, n_questions=12)
    db = write_demo_wave(b, 35, seed=7, n_questions=12)
    dc = write_demo_wave(c, 35, seed=8, n_questions=12)
    # pyreadstat stamps the write time into the header: compare everything else byte for byte
    ba, bb = bytearray(a.read_bytes()), bytearray(b.read_bytes())
    ba[SAV_TIMESTAMP] = bb[SAV_TIMESTAMP] = b"\0" * 17
    assert ba == bb
    fa, ma = pyreadstat.read_sav(str(a))
    fb, mb = pyreadstat.read_sav(str(b))
    fc, _ = pyreadstat.read_sav(str(c))
    pd.testing.assert_frame_equal(fa, fb)
    assert ma.variable_value_labels == mb.variable_value_labels
    assert ma.column_names_to_labels == mb.column_names_to_labels
    assert {k: v for k, v in da.items() if k != "path"} == {k: v for k, v in db.items() if k != "path"}
    assert list(fa.columns) == list(fc.columns)
    assert not fa.equals(fc)
    assert da["rewards"] != dc["rewards"]


# ------------------------------------------------------------------ errors


def test_corrupt_file_raises_naming_the_file(tmp_path):
    bad = tmp_path / "corrupt_W99.sav"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SurveyFileError, match="corrupt_W99.sav"):
        read_wave(bad)
    with pytest.raises(SurveyFileError, match="missing_W1.sav"):
        read_wave(tmp_path / "missing_W1.sav")


def test_missing_weight_column(tmp_path):
    path = _write_sav(tmp_path / "noweight.sav", {"QKEY": [1.0, 2.0], "F_PARTYSUM_FINAL": [1.0, 2.0], "Q1_W5": [1.0, 2.0]})
    with pytest.raises(SurveyFileError, match=r"noweight\.sav.*WEIGHT_W"):
        read_wave(path)
    with pytest.raises(SurveyFileError, match=r"noweight\.sav.*WEIGHT_W5"):
        read_wave(path, wave=5)


def test_missing_type_column(tmp_path):
    path = _write_sav(tmp_path / "notype.sav", {"QKEY": [1.0, 2.0], "WEIGHT_W5": [1.0, 1.0], "Q1_W5": [1.0, 2.0]})
    with pytest.raises(SurveyFileError, match=r"notype\.sav.*F_PARTYSUM_FINAL"):
        read_wave(path)


# ------------------------------------------------------------------ cleaning rules on a hand-made file


def _hand_made(tmp_path):
    #               ok   ok   ok   ok   ok   ok  refT NaNT NaNw  0w  -1w   ok
    party = [1.0, 1.0, 2.0, 2.0, 9.0, 2.0, 99.0, np.nan, 1.0, 2.0, 2.0, 1.0]
    weight = [1.0, 2.0, 0.5, 1.5, 3.0, 1.0, 1.0, 1.0, np.nan, 0.0, -1.0, 4.0]
    q1 = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 99.0]  # last answer refused
    q2 = [1.0, 2.0, np.nan, np.nan, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0]  # option 3 only from dropped rows
    cols = {"QKEY": np.arange(12.0), "FORM_W7": [1.0] * 12, "WEIGHT_W7": weight, "F_PARTYSUM_FINAL": party,
            "F_AGECAT": [1.0] * 12, "Q1_W7": q1, "Q2_W7": q2}
    labels = {"F_PARTYSUM_FINAL": {1: "Rep/Lean Rep", 2: "Dem/Lean Dem", 9: "DK/Refused/No lean", 99: "Refused"},
              "Q1_W7": {1: "Yes", 2: "No", 99: "Refused"}}  # code 3 unlabelled
    return _write_sav(tmp_path / "hand_W7.sav", cols, labels)


def test_refused_type_and_bad_weights_are_dropped_and_counted(tmp_path):
    path = _hand_made(tmp_path)
    questions, skipped, info = read_wave(path, min_answers_per_option=1)
    assert info["wave"] == "W7"
    assert info["n_respondents_total"] == 12
    assert info["n_dropped_type"] == 2  # 99 and NaN
    assert info["n_dropped_weight"] == 3  # NaN, 0, negative
    assert info["type_names"] == TYPE_NAMES
    (q1,) = questions
    assert q1.name == "Q1_W7" and q1.options == ["Yes", "No", "3"] and q1.codes == [1.0, 2.0, 3.0]
    expected = np.array([[1.0, 2.0, 0.0], [1.5, 0.0, 0.5 + 1.0], [0.0, 3.0, 0.0]])
    np.testing.assert_allclose(q1.counts, expected)
    assert q1.n_respondents == 6
    # Q2: option 3 is answered only by dropped respondents -> 2 options left
    assert [(s.name, s.reason) for s in skipped] == [("Q2_W7", "too_few_options")]
    # default threshold (100 per option) skips Q1 too
    _, skipped_default, _ = read_wave(path)
    assert {s.name: s.reason for s in skipped_default}["Q1_W7"] == "too_few_answers"


def test_several_type_columns_give_observed_combinations(tmp_path):
    path = _hand_made(tmp_path)
    questions, _, info = read_wave(path, type_columns=("F_PARTYSUM_FINAL", "F_AGECAT"), min_answers_per_option=1)
    assert info["type_names"] == ["Rep/Lean Rep / 1", "Dem/Lean Dem / 1", "DK/Refused/No lean / 1"]
    assert questions[0].counts.shape == (3, 3)


# ------------------------------------------------------------------ aggregated counts table


def test_read_counts_table_happy_path(tmp_path):
    path = tmp_path / "counts.csv"
    written = write_demo_counts_csv(path, seed=3)
    questions = read_counts_table(path)
    assert [q.name for q in questions] == ["CQ1_W900", "CQ2_W900", "CQ3_W900"]
    for q in questions:
        rows = written[written["question"] == q.name]
        assert q.wave == "W900" and q.text == rows["text"].iloc[0]
        assert q.options == list(dict.fromkeys(rows["option"]))  # order of first appearance
        assert q.type_names == sorted(TYPE_NAMES)
        assert q.type_idx is None and q.answer_idx is None and q.weight is None
        assert q.n_respondents == int(rows["n"].sum())
        expected = rows.pivot(index="group", columns="option", values="weighted_count")
        expected = expected.reindex(index=q.type_names, columns=q.options).fillna(0.0)
        np.testing.assert_allclose(q.counts, expected.to_numpy())
    last = questions[-1]  # the CSV leaves out its (last option, last group written) cell
    assert last.counts[last.type_names.index(TYPE_NAMES[-1]), -1] == 0.0
    # DataFrame input gives the same result
    again = read_counts_table(pd.read_csv(path))
    np.testing.assert_allclose(again[1].counts, questions[1].counts)


def test_read_counts_table_missing_column(tmp_path):
    path = tmp_path / "bad_counts.csv"
    pd.DataFrame({"question": ["Q"], "option": ["a"], "weighted_count": [1.0]}).to_csv(path, index=False)
    with pytest.raises(SurveyFileError, match=r"bad_counts\.csv.*group"):
        read_counts_table(path)
