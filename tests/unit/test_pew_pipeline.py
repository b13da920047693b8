"""The Pew stage's library entry points: one read function for every input kind (reader), one
input → its per-wave tables (waves), per-wave tables → the stage's tables and reports (combine)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyreadstat")

from hetpref.pew.analysis import BOOTSTRAP_COLUMNS, PARTITION_COLUMNS, analyse_questions, partition_summary
from hetpref.pew.combine import (
    PAPER_SUMMARY,
    concat_csv,
    partition_question_rows,
    partitions_markdown,
    summary_markdown,
    summary_rows,
)
from hetpref.pew.counts import read_counts_table
from hetpref.pew.demo import write_demo_wave
from hetpref.pew.reader import load_input, read_questions
from hetpref.pew.sav import read_wave
from hetpref.pew.waves import COVERAGE_COLUMNS, analyse_wave, analyse_wave_partitions
from tests.unit.test_pew_io import _counts_table_from_sav

FILTERS = {"refused_codes": [99], "refused_labels": ["Refused", "DK/REF"], "min_options": 3,
           "min_answers_per_option": 100}
ANALYSIS = {"pseudocount": 0.5, "floor": None, "temperature": 1.0, "mu": "uniform", "eps": 1e-5, "delta": 1e-5}
PARTY = {"name": "party", "columns": ["F_PARTYSUM_FINAL"]}
PARTY_AGE = {"name": "party_age", "columns": ["F_PARTYSUM_FINAL", "F_AGECAT"]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    sav = folder / "wave.sav"
    write_demo_wave(sav, 128, seed=2, n_respondents=1200, n_questions=12)
    counts = folder / "party_age.csv"
    _counts_table_from_sav(sav, PARTY_AGE["columns"], partition="party_age").to_csv(counts, index=False)
    return str(sav), str(counts)


def _same(a, b):
    (qa, sa, _), (qb, sb, _) = a, b
    assert [q.name for q in qa] == [q.name for q in qb] and len(qa) > 0
    assert [(s.name, s.reason, s.detail) for s in sa] == [(s.name, s.reason, s.detail) for s in sb]
    for x, y in zip(qa, qb):
        np.testing.assert_array_equal(x.counts, y.counts)


def test_one_read_function_serves_both_kinds(inputs):
    sav, counts = inputs
    columns = PARTY["columns"]
    _same(read_questions("sav", sav, load_input("sav", sav, columns), "W128", columns, [PARTY], FILTERS),
          read_wave(sav, wave="W128", type_columns=columns, refused_codes=[99], min_options=3,
                    min_answers_per_option=100))
    parts = [PARTY, PARTY_AGE]
    data = load_input("counts", counts, columns, parts)
    for cols in (columns, PARTY_AGE["columns"]):  # one parse, read for two sets of types
        _same(read_questions("counts", counts, data, "C_x", cols, parts, FILTERS),
              read_counts_table(counts, cols, parts, default_wave="C_x", **FILTERS))


def test_analyse_wave_tables_and_bootstrap(inputs):
    sav, _ = inputs
    none = {"draws": 0, "seed": 0, "level": 0.95}
    table, skipped, boot, info = analyse_wave("demo", sav, "W128", ["F_PARTYSUM_FINAL"], [PARTY], FILTERS, ANALYSIS,
                                              none)
    assert len(table) == info["n_questions"] > 0 and len(skipped) == info["n_skipped"] > 0
    assert list(skipped.columns) == ["wave", "question", "reason", "detail"]
    assert set(table["source"]) == {"demo"} and list(boot.columns) == BOOTSTRAP_COLUMNS and boot.empty
    questions, _, _ = read_wave(sav, type_columns=["F_PARTYSUM_FINAL"], refused_codes=[99])
    expected, _ = analyse_questions(questions, **ANALYSIS)
    np.testing.assert_array_equal(table["min_tv"], expected["min_tv"])
    assert table["counts"].iloc[0] == questions[0].counts.round(6).tolist()
    _, _, boot, _ = analyse_wave("demo", sav, "W128", ["F_PARTYSUM_FINAL"], [PARTY], FILTERS, ANALYSIS,
                                 {"draws": 3, "seed": 0, "level": 0.9})
    assert len(boot) == len(table) and set(boot["method"]) == {"respondent"} and set(boot["draws"]) == {3}


def test_partitions_coverage_names_what_a_partition_could_not_use(inputs):
    sav, counts = inputs
    nope = {"name": "nope", "columns": ["F_NOPE"]}
    rows, skipped, coverage = analyse_wave_partitions("sav", sav, "W128", ["F_PARTYSUM_FINAL"],
                                                      [PARTY, nope, PARTY_AGE], FILTERS, ANALYSIS)
    assert list(coverage.columns) == COVERAGE_COLUMNS
    assert coverage.set_index("partition")["status"].to_dict() == {"party": "ok", "nope": "missing_column",
                                                                   "party_age": "ok"}
    assert "F_NOPE" in coverage.set_index("partition").loc["nope", "detail"]
    assert set(rows["partition"]) == {"party", "party_age"} and list(rows.columns) == PARTITION_COLUMNS
    assert set(skipped["partition"]) == {"party", "party_age"}
    assert coverage.set_index("partition").loc["party_age", "n_types"] > coverage.set_index("partition").loc[
        "party", "n_types"]
    # a counts table: party summed from party × age, ideology absent
    ideology = {"name": "ideology", "columns": ["F_IDEO"]}
    _, _, cov = analyse_wave_partitions("counts", counts, "C_t", ["F_PARTYSUM_FINAL"], [PARTY, PARTY_AGE, ideology],
                                        FILTERS, ANALYSIS)
    cov = cov.set_index("partition")
    assert cov.loc["party", "detail"].startswith("summed from the rows of F_PARTYSUM_FINAL × F_AGECAT")
    assert cov.loc["ideology", "status"] == "no_rows" and cov.loc["party_age", "status"] == "ok"


def test_summary_rows_and_markdown():
    table = pd.DataFrame({"wave": ["W1", "W1", "W2"], "question": ["a", "b", "c"], "can_change": [True, False, True],
                          "top_can_change": [True, False, False], "min_tv": [0.1, 0.5, 0.3],
                          "top_differs": [False, False, True]})
    inv = pd.DataFrame({"wave": ["W1", "W2", "W3"], "file": ["1.sav", "2.sav", "3.sav"], "kind": ["sav"] * 3,
                        "status": ["ok", "ok", "unreadable"], "detail": ["", "", "broken"]})
    boot = pd.DataFrame({"wave": ["W1", "W1", "W2"], "question": ["a", "b", "c"], "method": ["respondent"] * 3,
                         "draws": [10] * 3, "share_can_change": [1.0, 0.2, 0.5], "share_top_differs": [0.0, 0.0, 0.9]})
    rows = {r["statistic"]: r for r in summary_rows(table, inv, boot, "real")}
    assert rows["questions_analysed"]["value"] == 3 and rows["questions_analysed"]["paper"] == 1519
    assert rows["median_min_tv"]["value"] == pytest.approx(0.2) and rows["ranking_can_change"]["value"] == 2
    assert rows["waves_analysed"]["value"] == "W1, W2" and "unreadable" in rows["waves_not_analysed"]["value"]
    assert rows["flippable_stable_in_95pct_of_draws"]["value"] == 1  # a (1.0); c (0.5) is not
    assert rows["top_differs_in_majority_of_draws"]["value"] == 1 and rows["bootstrap_draws"]["value"] == 10
    md = summary_markdown(list(rows.values()), "real", bootstrap=True)
    assert "| questions_analysed | 3 | 1519 |" in md and "DEMO" not in md and "**parametric**" in md
    no_boot = summary_rows(table.assign(can_change=False), inv, boot.iloc[:0], "demo")
    md = summary_markdown(no_boot, "demo", bootstrap=False)
    assert "DEMO DATA" in md and "n/a (no question qualifies)" in md and "Intervals" not in md
    assert {r["statistic"] for r in no_boot} >= set(PAPER_SUMMARY) - {"waves"} | {"intervals"}


def test_partition_rows_and_markdown(tmp_path):
    a = tmp_path / "a.csv"
    pd.DataFrame([{"partition": "party", "wave": "W1", "question": "q", "source": "sav", "n_types": 3, "n_options": 4,
                   "can_change": 1, "min_tv": 0.2, "top_can_change": 0, "top_differs": 1, "ranking_differs": 0,
                   "top_min_tv": 0.4}]).reindex(columns=PARTITION_COLUMNS).to_csv(a, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    rows = partition_question_rows([a, empty], PARTITION_COLUMNS)
    assert len(rows) == 1 and rows["can_change"].dtype == bool and bool(rows["top_differs"].iloc[0])
    assert concat_csv([empty], ["x"]).columns.tolist() == ["x"]
    summary = partition_summary(rows, [PARTY, PARTY_AGE])
    coverage = pd.DataFrame([{"partition": "party_age", "wave": "W1", "file": "/x/1.sav", "status": "missing_column",
                              "n_types": 0, "n_questions": 0, "n_skipped": 0, "detail": "no F_AGECAT"}])
    md = partitions_markdown(summary, coverage, "demo")
    lines = md.splitlines()
    assert lines[0].endswith("DEMO DATA (generated, not Pew)")
    assert any(line.startswith("| party | 3 | 1 | 1 | 1.000 |") for line in lines)
    assert any(line.startswith("| party_age |  | 0 | 0 | — |") for line in lines)
    assert "- party_age: 1.sav (W1) — missing_column: no F_AGECAT" in md
    assert not math.isnan(summary.loc[0, "median_min_tv"])


def test_pew_figures_draw_the_configured_questions_or_say_why_not(inputs):
    import matplotlib.pyplot as plt

    from hetpref.pew.figures import ev_question_figure, figures_6_10

    sav, _ = inputs
    table, _, _, _ = analyse_wave("demo", sav, "W128", ["F_PARTYSUM_FINAL"], [PARTY], FILTERS, ANALYSIS,
                                  {"draws": 0, "seed": 0, "level": 0.95})
    fig, missing = ev_question_figure(table, "fig1", "EVCAR2_W128", demo=True)
    assert missing is None and len(fig.axes) >= 3
    plt.close(fig)
    fig, missing = ev_question_figure(table, "fig8", "NOT_THERE", demo=True)
    assert "NOT_THERE was not analysed" in missing and len(fig.axes) == 1
    plt.close(fig)
    figs, index = figures_6_10(table, ["EVCAR2_W128", "NOT_THERE"], demo=True)
    assert list(figs) == ["EVCAR2_W128"] and "- NOT_THERE: not drawn" in index and "- EVCAR2_W128: drawn" in index
    figs2, index2 = figures_6_10(table, ["NOT_THERE"], demo=True)  # demo fallback: questions whose tops differ
    assert list(figs2) == table.loc[table["top_differs"], "question"].head(5).tolist() and "drawn instead" in index2
    for f in [*figs.values(), *figs2.values()]:
        plt.close(f)
