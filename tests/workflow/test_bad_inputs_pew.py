"""Bad-input matrix, Pew rows: real snakemake runs on real .sav files written with
pyreadstat and real CSV counts tables. Two runs: every bad input beside one good .sav and one good
counts table (exit 0, each bad input reported with its file and line, the good outputs equal the
library's), and a run whose every input is bad (exit 1 with one line naming the inputs)."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hetpref.pew.analysis import analyse_questions
from hetpref.pew.counts import read_counts_table
from hetpref.pew.demo import write_demo_counts_csv, write_demo_wave
from hetpref.pew.sav import read_wave

# hetpref imports pyreadstat only where a .sav is read or written, so the imports above work without it
pyreadstat = pytest.importorskip("pyreadstat")

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SMOKE = ROOT / "tests" / "workflow" / "config.yaml"
pytestmark = pytest.mark.workflow

GOOD_COUNTS = ("question,option,group,weighted_count,n\n"
               + "".join(f"Q1,{o},{g},{w},{w}\n" for o in "abc" for g, w in (("R", 120), ("D", 130))))


def _sav(path, columns):
    pyreadstat.write_sav(pd.DataFrame(columns), str(path))


def _truncated(path, folder):
    full = folder / "full.tmp"
    write_demo_wave(full, 129, seed=4, n_respondents=1500, n_questions=10)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header intact, rows cut
    full.unlink()


# file name, kind, how it is made, expected status, what the message must say besides the file name
BAD_INPUTS = [
    ("binary.sav", "sav", lambda p, d: p.write_bytes(np.random.default_rng(0).bytes(4096)), "unreadable",
     ["cannot be read as SPSS .sav"]),
    ("truncated.sav", "sav", _truncated, "unreadable", ["could not read SPSS .sav", "expected number of rows"]),
    ("no_weight.sav", "sav", lambda p, d: _sav(p, {"QKEY": [1.0, 2.0], "F_PARTYSUM_FINAL": [1.0, 2.0],
                                                   "Q1_W5": [1.0, 2.0]}), "missing_column", ["WEIGHT_W<n>"]),
    ("no_type.sav", "sav", lambda p, d: _sav(p, {"QKEY": [1.0, 2.0], "WEIGHT_W6": [1.0, 1.0], "Q1_W6": [1.0, 2.0]}),
     "missing_column", ["F_PARTYSUM_FINAL"]),
    ("text_type.sav", "sav", lambda p, d: _sav(p, {"WEIGHT_W7": [1.0, 1.0], "F_PARTYSUM_FINAL": ["Rep", "Dem"],
                                                   "Q1_W7": [1.0, 2.0]}), "invalid", ["F_PARTYSUM_FINAL", "text"]),
    ("zero_weights.sav", "sav", lambda p, d: _sav(p, {"WEIGHT_W8": [0.0, 0.0], "F_PARTYSUM_FINAL": [1.0, 2.0],
                                                      "Q1_W8": [1.0, 2.0]}), "invalid", ["no respondent", "WEIGHT_W8"]),
    ("negative.csv", "counts", lambda p, d: p.write_text(GOOD_COUNTS.replace("Q1,b,D,130", "Q1,b,D,-130")),
     "invalid", ["line 5", "'weighted_count'", "-130"]),
    ("non_numeric.csv", "counts", lambda p, d: p.write_text(GOOD_COUNTS.replace("Q1,c,R,120,120", "Q1,c,R,120,many")),
     "invalid", ["line 6", "'n'", "many"]),
    ("no_group_column.csv", "counts", lambda p, d: p.write_text("question,option,weighted_count\nQ1,a,3\n"),
     "missing_column", ["line 1", "'group'"]),
    ("duplicate.csv", "counts", lambda p, d: p.write_text(GOOD_COUNTS + "Q1,a,D,5,5\n"), "invalid",
     ["lines 3, 8", "duplicate"]),
    ("one_group.csv", "counts", lambda p, d: p.write_text("question,option,group,weighted_count\n"
                                                          + "".join(f"Q9,{o},R,300\n" for o in "abc")),
     "invalid", ["lines 2, 3, 4", "column 'group'", "one group only"]),
    ("empty.csv", "counts", lambda p, d: p.write_text(""), "unreadable", ["empty file"]),
    ("header_only.csv", "counts", lambda p, d: p.write_text("question,option,group,weighted_count\n"), "invalid",
     ["header only"]),
    ("binary.csv", "counts", lambda p, d: p.write_bytes(np.random.default_rng(1).bytes(4096)), "unreadable",
     ["not a", "text CSV"]),
    ("not_there.csv", "counts", None, "not_found", ["not found"]),
]


def snakemake(work, config, *targets):
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(config), "--directory", str(work),
           "--cores", "2", *targets]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _write_inputs(work, cases):
    data = work / "resources" / "pew"
    data.mkdir(parents=True)
    tables = work / "tables"
    tables.mkdir()
    counts = []
    for name, kind, make, _, _ in cases:
        path = (data if kind == "sav" else tables) / name
        if make is not None:
            make(path, work)
        if kind == "counts":
            counts.append(str(path))
    return data, counts


def _config(work, counts):
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["pew"] = {"source": "real", "counts_tables": counts, "bootstrap": {"draws": 5, "level": 0.9, "seed": 0}}
    path = work / "real.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """Every bad input of BAD_INPUTS beside one good .sav wave and one good counts table."""
    work = tmp_path_factory.mktemp("pew_mixed")
    data, counts = _write_inputs(work, BAD_INPUTS)
    write_demo_wave(data / "my survey (any name).sav", 128, seed=3, n_respondents=1500, n_questions=20)
    good_counts = work / "tables" / "crosstabs.csv"
    write_demo_counts_csv(good_counts, seed=1)
    res = snakemake(work, _config(work, [str(good_counts)] + counts),
                    "results/pew/real/summary.md", "results/pew/real/partitions.md")
    return work, res


def test_bad_inputs_beside_good_ones_run_green_and_the_good_outputs_are_intact(mixed_run):
    work, res = mixed_run
    assert res.returncode == 0, res.stderr[-4000:]
    pew = work / "results/pew/real"
    table = pd.read_csv(pew / "questions.csv")
    assert set(table["wave"]) == {"W128", "W900"}  # the .sav's wave and the counts table's wave column
    # the good inputs' numbers are the library's
    sav_q, sav_skipped, _ = read_wave(work / "resources/pew/my survey (any name).sav")
    counts_q, _, _ = read_counts_table(work / "tables/crosstabs.csv")
    expected = pd.concat([analyse_questions(sav_q)[0], analyse_questions(counts_q)[0]], ignore_index=True)
    assert table["question"].tolist() == expected["question"].tolist()
    np.testing.assert_allclose(table["min_tv"], expected["min_tv"], rtol=1e-9)
    assert table["can_change"].tolist() == expected["can_change"].tolist()
    skipped = pd.read_csv(pew / "skipped.csv")
    assert sorted(skipped["question"]) == sorted(s.name for s in sav_skipped)
    boot = pd.read_csv(pew / "bootstrap.csv")
    assert dict(zip(boot["wave"], boot["method"])) == {"W128": "respondent", "W900": "parametric"}
    summary = pd.read_csv(pew / "summary.csv").set_index("statistic")["value"]
    assert int(summary["intervals_parametric_bootstrap"]) == len(counts_q)
    assert int(summary["intervals_respondent_bootstrap"]) == len(sav_q)
    assert "nan" not in (pew / "summary.md").read_text()
    for name, *_ in BAD_INPUTS:  # every bad input is named in the summary
        assert name in summary["waves_not_analysed"], name
    parts = pd.read_csv(pew / "partitions.csv").set_index("partition")
    assert parts.loc["party", "questions_analysed"] == len(table)
    inv = pd.read_csv(pew / "inventory.csv")
    missing = set(inv.loc[inv["status"] == "missing", "wave"])
    assert "W35" in missing and "W128" not in missing  # manifest waves not found, with where to get them
    coverage = pd.read_csv(pew / "partitions/coverage.csv")
    # the party counts table has no party × age rows: that partition goes without it, and says so
    assert set(coverage.loc[coverage["wave"] == "C_crosstabs", "status"]) == {"ok", "no_rows"}


@pytest.mark.parametrize("name, kind, status, needles", [(n, k, s, nd) for n, k, _, s, nd in BAD_INPUTS],
                         ids=[n for n, *_ in BAD_INPUTS])
def test_each_bad_input_is_reported_with_its_file_and_line(mixed_run, name, kind, status, needles):
    work, res = mixed_run
    assert res.returncode == 0, res.stderr[-4000:]
    inv = pd.read_csv(work / "results/pew/real/inventory.csv")
    row = inv[inv["file"].fillna("").map(lambda f: Path(f).name) == name]
    assert len(row) == 1, inv
    row = row.iloc[0]
    assert row["status"] == status and row["kind"] == kind
    assert name in row["detail"], row["detail"]
    for needle in needles:
        assert needle in row["detail"], (needle, row["detail"])
    report = (work / "results/pew/real/data_report.md").read_text()
    line = next(line for line in report.splitlines() if line.startswith(f"| {name} |"))
    assert f"| {status} |" in line and "nan" not in line
    if kind == "counts":  # nothing was analysed from it
        assert not (work / f"results/pew/real/waves/{row['wave']}").exists()


def test_all_bad_inputs_fail_with_one_line_naming_them(tmp_path):
    cases = [c for c in BAD_INPUTS if c[0] in ("negative.csv", "header_only.csv", "binary.csv", "no_weight.sav")]
    _, counts = _write_inputs(tmp_path, cases)
    res = snakemake(tmp_path, _config(tmp_path, counts), "results/pew/real/summary.md", "fig2")
    assert res.returncode == 1
    lines = [line for line in (res.stdout + res.stderr).splitlines() if "no Pew question to analyse" in line]
    assert lines, res.stderr[-3000:]
    assert "Traceback" not in res.stderr, res.stderr[-3000:]  # one line, the traceback only in the job's log
    message = lines[-1]
    for name, *_ in cases:
        assert name in message, (name, message)
    assert re.search(r"see results/pew/real/data_report\.md", message)
    assert (tmp_path / "results/pew/real/data_report.md").exists()  # the report the message points to
    assert not (tmp_path / "results/pew/real/summary.md").exists()
    assert not (tmp_path / "results/figures/fig2.pdf").exists()
