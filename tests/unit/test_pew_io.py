"""Pew survey I/O: real .sav files written with pyreadstat, read back by hetpref.pew.sav and hetpref.pew.counts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hetpref.pew.counts import read_counts_table
from hetpref.pew.demo import EV_OPTIONS, EV_TEXT, TYPE_NAMES, write_demo_counts_csv, write_demo_wave
from hetpref.pew.questions import SurveyFileError, skipped_table
from hetpref.pew.sav import METADATA_PREFIXES, is_question_column, read_wave

# hetpref imports pyreadstat only where a .sav is read or written, so the imports above work without it
pyreadstat = pytest.importorskip("pyreadstat")

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
    """Independent tiny NBC (uniform μ, BT pairwise) and r̄ from weighted counts (docs/spec.md §6)."""
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
    path = _write_sav(tmp_path / "noweight.sav",
                      {"QKEY": [1.0, 2.0], "F_PARTYSUM_FINAL": [1.0, 2.0], "Q1_W5": [1.0, 2.0]})
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
    questions, skipped, info = read_counts_table(path)
    assert [q.name for q in questions] == ["CQ1_W900", "CQ2_W900", "CQ3_W900"] and skipped == []
    assert info["answer_basis"] == "n" and info["status"] == "ok" and info["rows"] == len(written)
    for q in questions:
        rows = written[written["question"] == q.name]
        assert q.wave == "W900" and q.text == rows["text"].iloc[0] and q.source == "counts"
        assert q.options == list(dict.fromkeys(rows["option"]))  # order of first appearance
        assert q.type_names == TYPE_NAMES  # groups in order of first appearance over the wave
        assert q.type_idx is None and q.answer_idx is None and q.weight is None
        assert q.n_respondents == int(rows["n"].sum())
        expected = rows.pivot(index="group", columns="option", values="weighted_count")
        expected = expected.reindex(index=q.type_names, columns=q.options).fillna(0.0)
        np.testing.assert_allclose(q.counts, expected.to_numpy())
        n = rows.pivot(index="group", columns="option", values="n").reindex(index=q.type_names, columns=q.options)
        np.testing.assert_array_equal(q.n_counts, n.fillna(0).to_numpy())
    last = questions[-1]  # the CSV leaves out its (last option, last group written) cell
    assert last.counts[last.type_names.index(TYPE_NAMES[-1]), -1] == 0.0
    # DataFrame input gives the same result
    again, _, _ = read_counts_table(pd.read_csv(path))
    np.testing.assert_allclose(again[1].counts, questions[1].counts)


def _counts_table_from_sav(path, type_columns, partition=None):
    """An aggregated table written the way a user would from the .sav, with pandas only (not
    hetpref's reader): every (question, option, group) cell of every numeric question — refused
    answers and refused groups included, zero cells included — labelled with value labels."""
    raw, meta = pyreadstat.read_sav(str(path))
    labels = meta.variable_value_labels
    weight = next(c for c in raw.columns if c.startswith("WEIGHT_W"))
    wave = weight.removeprefix("WEIGHT_")
    raw = raw[raw[weight] > 0].dropna(subset=list(type_columns))

    def label(col, code):
        lab = labels.get(col, {}).get(code, labels.get(col, {}).get(int(code)))
        return lab if lab is not None else str(int(code))

    group = raw[list(type_columns)].apply(lambda r: " / ".join(label(c, v) for c, v in zip(type_columns, r)), axis=1)
    group_order = raw[list(type_columns)].drop_duplicates().sort_values(list(type_columns))
    groups = [" / ".join(label(c, v) for c, v in zip(type_columns, r)) for r in group_order.itertuples(index=False)]
    rows = []
    for col in raw.columns:
        if not is_question_column(col) or not pd.api.types.is_numeric_dtype(raw[col]):
            continue
        answered = raw[raw[col].notna()]
        cells = answered.assign(g=group[answered.index]).groupby(["g", col])[weight].agg(["sum", "size"])
        for code in sorted(answered[col].unique()):
            for g in groups:
                w, n = cells.loc[(g, code)] if (g, code) in cells.index else (0.0, 0)
                rows.append({"wave": wave, "question": col, "text": meta.column_names_to_labels.get(col) or "",
                             "option": label(col, code), "group": g, "weighted_count": repr(float(w)), "n": int(n)})
    table = pd.DataFrame(rows)
    if partition is not None:
        table["partition"] = partition
    return table


FILTERS = dict(min_options=3, min_answers_per_option=100)
PARTITIONS = [{"name": "party", "columns": ["F_PARTYSUM_FINAL"]},
              {"name": "party_age", "columns": ["F_PARTYSUM_FINAL", "F_AGECAT"]}]


def _assert_same_questions(sav_result, counts_result):
    from hetpref.pew.analysis import analyse_questions, summary_statistics

    (sq, ss, _), (cq, cs, _) = sav_result, counts_result
    assert [q.name for q in cq] == [q.name for q in sq] and len(sq) > 10
    # every skip of the .sav with the same reason (the open-ended text column has no counts-table form)
    sav_skips = {s.name: s for s in ss if s.reason != "non_numeric"}
    assert {s.name: s.reason for s in cs} == {k: s.reason for k, s in sav_skips.items()}
    assert {"all_refused", "too_few_options", "too_few_answers"} <= {s.reason for s in cs}
    for s in cs:
        if s.reason != "all_refused":  # the .sav's all_refused detail also counts its empty answers
            assert s.detail.replace(" (n)", "") == sav_skips[s.name].detail, s.name
    for a, b in zip(sq, cq):
        assert (a.wave, a.text, a.options, a.type_names, a.n_respondents) == (b.wave, b.text, b.options, b.type_names,
                                                                             b.n_respondents), a.name
        np.testing.assert_allclose(b.counts, a.counts, rtol=1e-12, atol=1e-9, err_msg=a.name)
        np.testing.assert_array_equal(b.n_counts, a.n_counts, err_msg=a.name)
    ta, _ = analyse_questions(sq)
    tb, _ = analyse_questions(cq)
    for col in ("rbar_ranking", "nbc_ranking", "rbar_top", "nbc_top", "top_differs", "can_change", "top_can_change",
                "flip_pair", "n_pairs", "n_options", "n_respondents"):
        assert ta[col].tolist() == tb[col].tolist(), col
    for col in ("min_tv", "top_min_tv"):
        np.testing.assert_allclose(tb[col], ta[col], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(tb["type_shares"].tolist()), np.array(ta["type_shares"].tolist()), atol=1e-9)
    assert summary_statistics(ta) == pytest.approx(summary_statistics(tb))


@pytest.fixture(scope="module")
def same_data(tmp_path_factory):
    """One demo wave as a .sav and as counts tables (party; party × age), as a user would write them."""
    folder = tmp_path_factory.mktemp("same")
    sav = folder / "wave.sav"
    write_demo_wave(sav, 128, seed=5, n_respondents=1500, n_questions=40)
    party = folder / "party.csv"
    _counts_table_from_sav(sav, ["F_PARTYSUM_FINAL"]).to_csv(party, index=False)
    party_age = folder / "party_age.csv"
    _counts_table_from_sav(sav, ["F_PARTYSUM_FINAL", "F_AGECAT"], partition="party_age").to_csv(party_age, index=False)
    return sav, party, party_age


def test_counts_table_and_sav_give_the_same_questions_skips_and_numbers(same_data):
    sav, party, _ = same_data
    table = pd.read_csv(party, dtype=str, keep_default_na=False)
    assert "Refused" in set(table["option"])  # refused answers are in the table and must be dropped
    _assert_same_questions(read_wave(sav, **FILTERS), read_counts_table(party, **FILTERS))


@pytest.mark.parametrize("columns", [["F_PARTYSUM_FINAL"], ["F_PARTYSUM_FINAL", "F_AGECAT"]])
def test_party_age_counts_table_gives_both_partitions_as_the_sav_does(same_data, columns):
    sav, _, party_age = same_data
    groups = set(pd.read_csv(party_age, dtype=str, keep_default_na=False)["group"])
    assert any(g.endswith(" / DK/REF") for g in groups)  # refused age is a group of the table
    counts = read_counts_table(party_age, type_columns=columns, partitions=PARTITIONS, **FILTERS)
    # party alone is summed from the party × age rows, as the .sav keeps respondents whose age is refused
    assert counts[2]["derived_from"] == (None if len(columns) == 2 else ["F_PARTYSUM_FINAL", "F_AGECAT"])
    _assert_same_questions(read_wave(sav, type_columns=columns, **FILTERS), counts)


def test_counts_table_without_n_filters_on_weighted_counts(tmp_path):
    rows = [{"question": "Q", "option": o, "group": g, "weighted_count": w, "n": n}
            for o in "abc" for g, w, n in (("R", 45.0, 60), ("D", 40.0, 50))]  # 85 weighted vs 110 answers per option
    with_n = tmp_path / "with_n.csv"
    pd.DataFrame(rows).to_csv(with_n, index=False)
    without_n = tmp_path / "without_n.csv"
    pd.DataFrame(rows).drop(columns="n").to_csv(without_n, index=False)
    kept, skipped, info = read_counts_table(with_n)
    assert [q.name for q in kept] == ["Q"] and not skipped and info["answer_basis"] == "n"
    kept, skipped, info = read_counts_table(without_n)
    assert not kept and info["answer_basis"] == "weighted_count"
    (s,) = skipped
    assert s.reason == "too_few_answers" and "255 weighted answers (no 'n' column)" in s.detail
    # refused groups and options are recognised by label or by the refused code written as a number
    refused = rows + [{"question": "Q", "option": "Refused", "group": "R", "weighted_count": 7.0, "n": 9},
                      {"question": "Q", "option": "a", "group": "99", "weighted_count": 70.0, "n": 90}]
    path = tmp_path / "refused.csv"
    pd.DataFrame(refused).to_csv(path, index=False)
    (q,), _, info = read_counts_table(path)
    assert q.options == ["a", "b", "c"] and q.type_names == ["R", "D"] and q.n_respondents == 330
    assert info["refused_groups"] == ["99"]
    # all options refused -> all_refused; one option left -> too_few_options
    only_refused = pd.DataFrame([{"question": "Q", "option": "Refused", "group": g, "weighted_count": 5, "n": 5}
                                 for g in "RD"])
    _, (s,), _ = read_counts_table(only_refused)
    assert s.reason == "all_refused" and "10 refused" in s.detail


GOOD = ("question,option,group,weighted_count,n\n"
        + "".join(f"Q1,{o},{g},{w},{w}\n" for o in "abc" for g, w in (("R", 120), ("D", 130))))


@pytest.mark.parametrize("name, content, status, needles", [
    ("missing_column.csv", "question,option,weighted_count\nQ1,a,3\n", "missing_column", ["line 1", "'group'"]),
    ("negative.csv", GOOD.replace("Q1,b,D,130,130", "Q1,b,D,-130,130"), "invalid",
     ["line 5", "'weighted_count'", "-130"]),
    ("non_numeric.csv", GOOD.replace("Q1,c,R,120,120", "Q1,c,R,12O,120"), "invalid",
     ["line 6", "'weighted_count'", "12O"]),
    ("fractional_n.csv", GOOD.replace("Q1,a,R,120,120", "Q1,a,R,120,12.5"), "invalid", ["line 2", "'n'"]),
    ("weight_without_n.csv", GOOD.replace("Q1,a,R,120,120", "Q1,a,R,120,0"), "invalid", ["line 2", "'n'"]),
    ("duplicate.csv", GOOD + "Q1,b,R,1,1\n", "invalid", ["lines 4, 8", "duplicate", "'Q1', 'b', 'R'"]),
    ("one_group.csv", GOOD + "".join(f"Q2,{o},R,200,200\n" for o in "abc"), "invalid",
     ["lines 8, 9, 10", "column 'group'", "'Q2'", "one group only"]),
    ("empty.csv", "", "unreadable", ["empty file"]),
    ("header_only.csv", "question,option,group,weighted_count,n\n", "invalid", ["header only"]),
    ("ragged.csv", GOOD + "Q1,d,R,5\n", "invalid", ["line 8", "4 field(s)"]),
    ("empty_cell.csv", GOOD.replace("Q1,a,D,", "Q1,,D,"), "invalid", ["line 3", "column 'option'"]),
    ("unknown_partition.csv", "partition," + GOOD.replace("\n", "\nage,", 1).rstrip(",")
     .replace("\nQ1", "\n,Q1"), "invalid", ["line 2", "'partition'", "'age'"]),
])
def test_bad_counts_table_names_file_line_and_column(tmp_path, name, content, status, needles):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SurveyFileError) as err:
        read_counts_table(path, partitions=PARTITIONS)
    message = str(err.value)
    assert message.startswith(str(path)) and err.value.status == status, message
    for needle in needles:
        assert needle in message, (needle, message)


def test_binary_and_missing_counts_tables(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(SurveyFileError, match=r"binary\.csv: not a .*text CSV") as err:
        read_counts_table(binary)
    assert err.value.status == "unreadable"
    with pytest.raises(SurveyFileError, match=r"nowhere\.csv: counts table not found") as err:
        read_counts_table(tmp_path / "nowhere.csv")
    assert err.value.status == "not_found"


def test_line_numbers_are_one_based_with_the_header_and_follow_quoted_newlines(tmp_path):
    rows = pd.DataFrame({"question": ["Q"] * 20, "text": ["two\nlines"] + [""] * 19,
                         "option": [f"o{i}" for i in range(20)], "group": ["R", "D"] * 10,
                         "weighted_count": [1.0] * 20})
    rows.loc[15, "weighted_count"] = -1.0  # data row 15 (0-based) = line 17, +1 for the quoted newline
    path = tmp_path / "lines.csv"
    rows.to_csv(path, index=False)
    assert path.read_text().splitlines()[17].endswith("-1.0")
    with pytest.raises(SurveyFileError, match=r"lines\.csv: line 18: column 'weighted_count'"):
        read_counts_table(path)


# ------------------------------------------------------------------ inventory of the inputs


def test_inventory_checksums_duplicates_and_missing_waves(tmp_path):
    from hetpref.pew.inventory import inventory, inventory_report
    from hetpref.provenance import file_sha256

    a, b, c = tmp_path / "a.sav", tmp_path / "b.sav", tmp_path / "c.sav"
    for path, number, seed in ((a, 35, 1), (b, 35, 2), (c, 52, 3)):
        write_demo_wave(path, number, seed=seed, n_respondents=1500, n_questions=10)
    manifest = {"W35": {"file": "ATP W35.sav", "sha256": file_sha256(a)}, "W52": {"file": "ATP W52.sav",
                "sha256": "0" * 64}, "W128": {"file": "ATP W128.sav"}}
    inv = inventory([c, b, a], manifest).set_index("wave", drop=False)
    by_file = dict(zip(inv["file"].map(lambda f: f and str(f).rsplit("/", 1)[-1]), inv["status"]))
    assert by_file == {"a.sav": "ok", "b.sav": "checksum_mismatch", "c.sav": "checksum_mismatch", "": "missing"}
    assert inv.loc["W128", "detail"].startswith("W128 not found; download 'ATP W128.sav'")
    # without checksums, the second file of a wave is a duplicate
    inv = inventory([a, b], {})
    assert inv["status"].tolist() == ["ok", "duplicate_wave"] and "b.sav" in inv["detail"].iloc[1]
    report = inventory_report(inv, demo=False)
    assert "| b.sav | W35 | duplicate_wave |" in report


def test_inventory_validates_counts_tables_and_names_them(tmp_path):
    from hetpref.pew.inventory import counts_table_ids, inspect_counts_table, no_question_message

    good = tmp_path / "x" / "my table.csv"
    write_demo_counts_csv(good, seed=0)
    (tmp_path / "y").mkdir()
    bad = tmp_path / "y" / "my table.csv"
    bad.write_text("question,option,group,weighted_count\nQ,a,R,-1\nQ,a,D,1\n")
    ids = counts_table_ids([good, bad])
    assert ids == ["C_my-table", "C_my-table_2"]  # safe as a wildcard, unique
    rows = [inspect_counts_table(p, w, partitions=PARTITIONS) for p, w in zip([good, bad], ids)]
    assert rows[0]["status"] == "ok" and "groups are types of party" in rows[0]["detail"]
    assert rows[1]["status"] == "invalid" and rows[1]["detail"].startswith(f"{bad}: line 2: column 'weighted_count'")
    age_only = tmp_path / "age.csv"
    pd.DataFrame([{"partition": "party_age", "question": "Q", "option": o, "group": f"R / {a}", "weighted_count": 1}
                  for o in "abc" for a in ("18-29", "65+")]).to_csv(age_only, index=False)
    row = inspect_counts_table(age_only, "C_age", type_columns=["F_IDEO"], partitions=PARTITIONS)
    assert row["status"] == "ok" and "groups are types of party_age" in row["detail"]
    assert "no rows for the main types (F_IDEO): used by the partitions only" in row["detail"]
    # age alone can be summed from party × age: that is not reported as missing
    assert "no rows" not in inspect_counts_table(age_only, "C_age", ["F_AGECAT"], PARTITIONS)["detail"]
    inv = pd.DataFrame([rows[1], {"file": "", "kind": "sav", "wave": "W35", "status": "missing", "detail": ""}])
    message = no_question_message(inv, None, "results/pew/real/data_report.md")
    assert message == ("no Pew question to analyse: every input is unusable — my table.csv (invalid); "
                       "see results/pew/real/data_report.md") and "\n" not in message
    skipped = pd.DataFrame({"reason": ["too_few_options", "too_few_options", "all_refused"]})
    message = no_question_message(pd.DataFrame([rows[0]]), skipped, "report.md")
    assert "usable input(s) my table.csv passes the filters (skipped: too_few_options 2, all_refused 1)" in message
    assert no_question_message(inv.iloc[1:], None, "report.md", "resources/pew").startswith(
        "no Pew input to analyse: no .sav file in resources/pew")


def test_manifest_waves_given_by_a_counts_table_are_not_missing_and_wrong_delimiters_are_named(tmp_path):
    from hetpref.pew.inventory import inspect_counts_table, inventory, inventory_report, mark_waves_in_counts_tables

    table = tmp_path / "w900.csv"
    write_demo_counts_csv(table, seed=0)  # wave W900
    row = inspect_counts_table(table, "C_w900")
    assert row["waves"] == ["W900"] and "waves W900" in row["detail"]
    inv = mark_waves_in_counts_tables(inventory([], {"W900": {"file": "ATP W900.sav"}, "W35": {"file": "x"}}), [row])
    assert dict(zip(inv["wave"], inv["status"])) == {"W35": "missing", "W900": "in_counts_table"}
    assert "W900" not in inventory_report(inv, demo=False).split("|", 1)[-1]
    semi = tmp_path / "semi.csv"
    pd.read_csv(table).to_csv(semi, sep=";", index=False)
    with pytest.raises(SurveyFileError, match=r"semi\.csv: line 1 \(header\): one column .*comma-separated"):
        read_counts_table(semi)
