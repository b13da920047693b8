"""hetpref inspect: the report on every shipped fixture, alpha from the krippendorff package, and
each diagnostic shown able to fail on hand-built tables."""
from __future__ import annotations

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from hetpref.annotators.adapters import FIXTURE_FILES
from hetpref.annotators.cli import main
from hetpref.annotators.diagnostics import IDENTIFICATION_CAVEAT, inspect_table
from hetpref.annotators.table import make_table


def _table(rows, attrs=("group",)):
    """rows: (prompt, a_id, b_id, annotator, group, label)."""
    f = pd.DataFrame(rows, columns=["prompt_id", "response_a_id", "response_b_id", "annotator_id", "group", "label"])
    f = f.assign(prompt=f["prompt_id"] + "?", response_a=f["response_a_id"] + "!", response_b=f["response_b_id"] + "!",
                 source_row=np.arange(1, len(f) + 1))
    return make_table(f, attrs, "hand.csv", "generic")


def _best_of(prompt, choices_by_group):
    """Best-of-k judgements: each choice of response o by one annotator of a group -> o beats each other."""
    rows, k = [], 0
    for group, choices in choices_by_group.items():
        for o, times in enumerate(choices):
            for _ in range(times):
                k += 1
                for other in range(len(choices)):
                    if other != o:
                        a, b = sorted((o, other))
                        rows.append((prompt, f"r{a}", f"r{b}", f"{group}{k}", group, "a" if a == o else "b"))
    return rows


@pytest.mark.parametrize("name", sorted(FIXTURE_FILES))
def test_inspect_writes_report_on_each_fixture(name, tmp_path, capsys):
    assert main(["inspect", "--example", name, "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# Annotator data report") and "How to read this report" in report
    assert "## Feasibility" in report and "| pairs |" in report and "Krippendorff's alpha" in report
    assert IDENTIFICATION_CAVEAT in report
    data = json.loads((tmp_path / "inspect.json").read_text())
    assert data["feasibility"]["judgements"] > 0
    assert {v["view"] for v in data["feasibility"]["views"]} == {"anonymous", "same_annotator_pairs", "per_type"}
    assert data["agreement"]["level"] == "nominal"
    assert (tmp_path / "figures" / "inspect.png").stat().st_size > 0


def test_fixture_alpha_equals_the_package_on_reliability_data(tmp_path):
    """The value_counts layout against the package's own annotator × pair reliability matrix."""
    from hetpref.annotators.adapters import fixture, read

    table = read("multipref", fixture("multipref"))
    f = table.frame
    code = f["label"].astype(object).map({"a": 0, "b": 1, "tie": 2})
    matrix = f.assign(code=code).pivot_table(index="annotator_id", columns="pair_id", values="code", aggfunc="first")
    expected = krippendorff.alpha(reliability_data=matrix.to_numpy(dtype=float), level_of_measurement="nominal",
                                  value_domain=[0, 1, 2])
    got = inspect_table(table, "worker_type", with_views=False)["agreement"]["all_annotators"]["alpha"]
    assert got == pytest.approx(expected, abs=1e-12)


def test_alpha_matches_krippendorff_on_a_hand_case():
    # three pairs; within group g: pair 1 (a, a), pair 2 (a, b), pair 3 (b, b, tie)
    rows = [("p", "x", "y", "u1", "g", "a"), ("p", "x", "y", "u2", "g", "a"),
            ("p", "x", "z", "u1", "g", "a"), ("p", "x", "z", "u2", "g", "b"),
            ("p", "y", "z", "u1", "g", "b"), ("p", "y", "z", "u2", "g", "b"), ("p", "y", "z", "u3", "g", "tie"),
            ("p", "x", "y", "v1", "h", "b")]
    res = inspect_table(_table(rows), "group", with_views=False)["agreement"]
    # reliability data by hand: coders u1, u2, u3 × units (x|y, x|z, y|z); a=0, b=1, tie=2
    hand = [[0, 0, 1], [0, 1, 1], [np.nan, np.nan, 2]]
    assert res["within"]["g"]["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=hand, level_of_measurement="nominal"), abs=1e-12)
    assert res["within"]["g"]["units"] == 3 and res["within"]["h"]["units"] == 0
    assert np.isnan(res["within"]["h"]["alpha"])
    # between: on x|y (the only pair both types judged) g's majority is a, h's is b: one unit whose two
    # ratings disagree, so observed and expected disagreement are equal and alpha is 0
    assert res["between"]["units"] == 1 and res["between"]["alpha"] == pytest.approx(0.0)


def test_agreement_can_fail():
    agree = ([("p", "x", "y", f"u{i}", "g", "a") for i in range(3)]
             + [("p", "x", "z", f"u{i}", "g", "b") for i in range(3)])
    split = [("p", "x", "y", f"u{i}", "g", "ab"[i % 2]) for i in range(4)] + \
            [("p", "x", "z", f"u{i}", "g", "ba"[i % 2]) for i in range(4)]
    other = [("p", "x", "y", "w", "h", "a")]
    assert inspect_table(_table(agree + other), "group", with_views=False)["agreement"]["within"]["g"]["alpha"] == 1.0
    assert inspect_table(_table(split + other), "group", with_views=False)["agreement"]["within"]["g"]["alpha"] < 0


def test_unanimity_and_feasibility_counts():
    rows = [("p", "x", "y", "u1", "g", "a"), ("p", "x", "y", "v1", "h", "a"),      # unanimous
            ("p", "x", "z", "u1", "g", "a"), ("p", "x", "z", "v1", "h", "b"),      # types disagree
            ("p", "y", "z", "u1", "g", "tie"), ("p", "y", "z", "v1", "h", "tie"),  # a tie is not unanimous
            ("q", "x", "y", "u2", "g", "a")]                                       # one type only
    fe = inspect_table(_table(rows), "group")["feasibility"]
    assert (fe["pairs"], fe["prompts"], fe["annotators"], fe["pairs_with_every_type"]) == (4, 2, 3, 3)
    assert fe["unanimous_by_types"] == [{"k": 2, "pairs": 3, "unanimous": 1, "share": 1 / 3}]
    assert fe["same_annotator_pairs"] == 2 and fe["same_annotator_pairs_all"] == 6   # u1 and v1 judged 3 pairs
    assert {v["view"]: v["allowed"] for v in fe["views"]}["anonymous"]


def test_per_type_view_refused_when_no_pair_has_every_type():
    rows = [("p", "x", "y", "u1", "g", "a"), ("p", "x", "z", "v1", "h", "b")]
    fe = inspect_table(_table(rows), "group")["feasibility"]
    status = {v["view"]: v for v in fe["views"]}
    assert fe["pairs_with_every_type"] == 0
    assert not status["per_type"]["allowed"] and status["per_type"]["reason"]


def test_nbc_vs_average_detects_a_different_top_and_agrees_when_types_agree():
    # group g: 8 annotators all choose r1; group h: choices (4, 3, 9) of r0, r1, r2.
    # Luce–Shepard: g's intense preference for r1 makes r1 r̄'s top; h's majority for r2 makes r2 NBC's top.
    differ = inspect_table(_table(_best_of("p", {"g": (0, 8, 0), "h": (4, 3, 9)})), "group", with_views=False)
    row = differ["nbc_vs_average"]["prompts"].iloc[0]
    assert (row["rbar_top"], row["nbc_top"], bool(row["top_differs"])) == ("r1", "r2", True)
    assert differ["nbc_vs_average"]["summary"]["share_top_differs"] == 1.0
    same = inspect_table(_table(_best_of("p", {"g": (6, 3, 1), "h": (6, 3, 1)})), "group", with_views=False)
    s = same["nbc_vs_average"]["summary"]
    assert (s["prompts_analysed"], s["share_top_differs"], s["share_ranking_differs"]) == (1, 0.0, 0.0)
    assert same["nbc_vs_average"]["prompts"].iloc[0]["rbar_ranking"] == "r0>r1>r2"


def test_prompts_without_three_responses_or_two_types_are_skipped():
    rows = _best_of("p", {"g": (2, 1, 1)}) + [("q", "x", "y", "u9", "h", "a")]
    s = inspect_table(_table(rows), "group", with_views=False)["nbc_vs_average"]["summary"]
    assert s["prompts_analysed"] == 0
    assert s["skipped"] == {"fewer_than_3_responses": 1, "fewer_than_2_types_comparing_all_responses": 1}


@pytest.mark.parametrize("argv, needle", [
    (["--format", "multipref", "--input", "missing.jsonl"], "missing.jsonl"),
    (["--format", "nosuch", "--input", "x.jsonl"], "unknown adapter"),
    (["--example", "multipref", "--type-attribute", "shoe_size"], "shoe_size"),
    (["--example", "multipref", "--option", "noequals"], "KEY=VALUE"),
    (["--example", "multipref", "--option", "colour=red"], "takes no options"),
    (["--example", "nosuch"], "unknown adapter"),
])
def test_bad_input_exits_2_with_one_message(argv, needle, tmp_path, capsys):
    assert main(["inspect", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("hetpref inspect:")]) == 1


def test_type_attribute_with_one_value_is_refused(tmp_path):
    rows = [("p", "x", "y", "u1", "g", "a"), ("p", "x", "z", "u2", "g", "b")]
    with pytest.raises(Exception, match="one value only"):
        inspect_table(_table(rows), "group")


def test_prompts_of_different_sizes_batched_by_size_equal_one_padded_batch():
    from hetpref.annotators.diagnostics.rankings import analyse_by_size
    from hetpref.pew.analysis import analyse_counts

    rng = np.random.default_rng(0)
    n = rng.integers(3, 6, 40)
    counts = rng.integers(0, 9, (40, 2, 5)).astype(float) * (np.arange(5)[None, None, :] < n[:, None, None])
    padded, grouped = analyse_counts(counts, n), analyse_by_size(counts, n, 0.5)
    valid = np.arange(5)[None] < n[:, None]
    for key in ("rbar_top", "nbc_top", "min_tv", "top_min_tv"):
        np.testing.assert_allclose(grouped[key], padded[key])
    for key in ("rbar", "nbc"):
        np.testing.assert_allclose(grouped[key], np.where(valid, padded[key], 0.0))
