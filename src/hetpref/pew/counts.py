"""Read an aggregated Pew counts table (a CSV with one row per (wave, question, option, group))
into the same :class:`~hetpref.pew.questions.Question` objects as a ``.sav`` wave (docs/spec.md §6).

:func:`parse_counts_table` reads and validates the file once (every problem raises
:class:`~hetpref.pew.questions.SurveyFileError` naming the file, the line(s) and the column);
:func:`read_counts_table` turns its rows for one set of type columns into questions, through
the same question filters as a ``.sav`` wave. A counts table's refused options and groups are
labels (``refused_labels``, or a refused code written as a number); a group that combines
several columns (labels joined with ``" / "``) is refused when any part is. Answers are counted
with the ``n`` column or, for a table without ``n``, its weighted counts (Pew weights are scaled
to mean 1 over a wave's sample, so a weighted count approximates a number of respondents;
``info["answer_basis"]`` and each skip's detail say which was used).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .questions import (
    DEFAULT_REFUSED_LABELS,
    DEFAULT_TYPE_COLUMNS,
    GROUP_SEPARATOR,
    Question,
    SkippedQuestion,
    SurveyFileError,
    is_refused_label,
    normalize_wave,
    screen_question,
)

#: Counts-table columns: required ones first; the others are optional.
COUNTS_REQUIRED = ("question", "option", "group", "weighted_count")
COUNTS_OPTIONAL = ("wave", "text", "n", "partition")
_MAX_LINES_SHOWN = 5


@dataclass
class CountsTable:
    """A parsed and validated counts table: one row per CSV data row, text cells stripped,
    ``weighted_count`` / ``n`` as floats, ``line`` = the row's 1-based line in the file (the
    header is line 1), ``columns`` = the type columns its groups stand for (from ``partition``)."""

    source: str
    rows: pd.DataFrame
    has_n: bool
    partitions: dict = field(default_factory=dict)

    def column_sets(self) -> list[tuple]:
        """The distinct type-column tuples the table's rows stand for, in order of appearance."""
        return list(dict.fromkeys(self.rows["columns"]))



def partition_map(partitions) -> dict[str, tuple]:
    """``{name: columns}`` from the config's list of ``{name, columns}`` (or such a dict)."""
    if not partitions:
        return {}
    if isinstance(partitions, dict):
        return {str(k): tuple(v) for k, v in partitions.items()}
    return {str(p["name"]): tuple(p["columns"]) for p in partitions}



def parse_counts_table(path_or_df, type_columns=DEFAULT_TYPE_COLUMNS, partitions=None) -> CountsTable:
    """Read and validate a counts table (CSV path or DataFrame); every problem raises
    :class:`SurveyFileError` naming the file, the line(s) and the column.

    Columns (any order; others are ignored): ``question, option, group, weighted_count``
    (required) and ``wave, text, n, partition`` (optional). Checked: the file is a UTF-8 CSV with
    a header and at least one data row; every row has the header's number of fields; question,
    option and group are non-empty; ``weighted_count`` and ``n`` are finite numbers >= 0, ``n``
    whole and > 0 wherever the weighted count is; ``partition`` is empty (the groups are
    ``type_columns``' types) or a configured partition name, and a group of a partition with
    several columns has one label per column joined by ``" / "``; no two rows share (partition,
    wave, question, option, group); every question has at least two groups.
    """
    type_columns = tuple(type_columns)
    parts = partition_map(partitions)
    source, table = _load_counts(path_or_df)
    lines = table["line"]

    def fail(mask_or_message, message=None, status="invalid"):
        if message is None:
            raise SurveyFileError(f"{source}: {mask_or_message}", status)
        raise SurveyFileError(f"{source}: {_lines(lines[mask_or_message])}: {message}", status)

    for col in ("question", "option", "group"):
        empty = table[col] == ""
        if empty.any():
            fail(empty, f"column {col!r} is empty; every row needs a {col}")

    has_n = "n" in table.columns
    for col in ("weighted_count", "n") if has_n else ("weighted_count",):
        values = pd.to_numeric(table[col], errors="coerce").astype(float)
        bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)
        if bad.any():
            shown = ", ".join(repr(v) for v in table.loc[bad, col].head(_MAX_LINES_SHOWN))
            fail(bad, f"column {col!r} must hold a finite number >= 0, found {shown}")
        table[col] = values
    if has_n:
        fractional = np.mod(table["n"].to_numpy(), 1) != 0
        if fractional.any():
            fail(fractional, "column 'n' must hold whole numbers of respondents")
        impossible = (table["n"] == 0) & (table["weighted_count"] > 0)
        if impossible.any():
            fail(impossible, "column 'n' is 0 where 'weighted_count' is > 0 (weight without respondents)")

    if "wave" in table.columns:
        table["wave"] = table["wave"].map(_wave_id)
    else:
        table["wave"] = ""
    if "text" not in table.columns:
        table["text"] = ""
    if "partition" in table.columns:
        unknown = (table["partition"] != "") & ~table["partition"].isin(list(parts))
        if unknown.any():
            names = sorted(set(table.loc[unknown, "partition"]))
            fail(unknown, f"column 'partition' names unknown partition(s) {names}; configured (pew.partitions): "
                          f"{list(parts)}; leave it empty for the main types ({list(type_columns)})")
        table["columns"] = [parts[p] if p else type_columns for p in table["partition"]]
    else:
        table["partition"] = ""
        table["columns"] = [type_columns] * len(table)
    table["types_key"] = table["columns"].map("\x1f".join)  # hashable stand-in for the column tuple

    n_parts = table["group"].str.count(re.escape(GROUP_SEPARATOR)) + 1
    n_cols = table["columns"].map(len)
    wrong = (n_cols > 1) & (n_parts != n_cols)
    if wrong.any():
        first = table.loc[wrong].iloc[0]
        fail(wrong, f"column 'group': {first['group']!r} has {n_parts[wrong].iloc[0]} part(s) but its types "
                    f"combine {len(first['columns'])} columns {list(first['columns'])}; join one label per column "
                    f"with {GROUP_SEPARATOR!r}")

    key = ["types_key", "wave", "question", "option", "group"]
    dup = table.duplicated(key, keep=False)
    if dup.any():
        first = table.loc[dup].iloc[0]
        same = dup & (table[key] == first[key]).all(axis=1)
        fail(same, f"duplicate rows for the same (wave, question, option, group) = "
                   f"({first['wave']!r}, {first['question']!r}, {first['option']!r}, {first['group']!r}); "
                   f"{int(dup.sum())} duplicate row(s) in all")

    n_groups = table.groupby(["types_key", "wave", "question"], sort=False)["group"].transform("nunique")
    single = n_groups < 2
    if single.any():
        first = table.loc[single].iloc[0]
        same = single & (table[["types_key", "wave", "question"]]
                         == first[["types_key", "wave", "question"]]).all(axis=1)
        fail(same, f"column 'group': question {first['question']!r} has one group only ({first['group']!r}); "
                   f"user types need at least two groups per question")
    return CountsTable(source=source, rows=table, has_n=has_n, partitions=parts)



def read_counts_table(
    path_or_df,
    type_columns=DEFAULT_TYPE_COLUMNS,
    partitions=None,
    refused_codes=(99,),
    refused_labels=DEFAULT_REFUSED_LABELS,
    min_options: int = 3,
    min_answers_per_option: float = 100,
    default_wave: str = "",
    parsed: CountsTable | None = None,
) -> tuple[list[Question], list[SkippedQuestion], dict]:
    """Questions of an aggregated counts table, through the same filters as :func:`read_wave`.

    The table's rows for ``type_columns`` are used: those whose ``partition`` stands for exactly
    these columns (rows without a partition stand for the main types, ``pew.type_columns``), or
    else — summed — the rows of the smallest partition that contains all of them (a party × age
    table gives the party types by adding up the ages, as a ``.sav`` would). None: no question
    (``info["status"] == "no_rows"``).

    Questions come in order of first appearance, options in order of first appearance within
    their question, groups in order of first appearance over the wave (so every question of a
    wave shares the same ``type_names``); missing cells count 0. Aggregated tables carry no
    answer codes, so ``codes`` are the 1-based option positions. Respondent-level fields are
    ``None``. ``default_wave`` is the wave of rows with an empty or no ``wave``.

    Returns ``(questions, skipped, info)`` like :func:`read_wave`; raises
    :class:`SurveyFileError` for a table :func:`parse_counts_table` rejects.
    """
    type_columns = tuple(type_columns)
    table = parsed if parsed is not None else parse_counts_table(path_or_df, type_columns, partitions)
    basis = "n" if table.has_n else "weighted_count"
    info = {"file": table.source, "type_columns": list(type_columns), "status": "ok", "rows": 0,
            "n_questions": 0, "n_skipped": 0, "type_names": {}, "refused_groups": [],
            "answer_basis": basis, "derived_from": None}
    rows, derived_from = rows_for(table, type_columns)
    if rows is None:
        info["status"] = "no_rows"
        return [], [], info
    info["rows"] = len(rows)
    info["derived_from"] = list(derived_from) if derived_from else None
    rows = rows.assign(wave=rows["wave"].where(rows["wave"] != "", default_wave))

    def refused(label):
        return is_refused_label(label, refused_codes, refused_labels)

    group_refused = rows["group"].map(lambda g: any(refused(p) for p in g.split(GROUP_SEPARATOR))
                                      if len(type_columns) > 1 else refused(g))
    option_refused = rows["option"].map(refused)
    info["refused_groups"] = sorted(set(rows.loc[group_refused, "group"]))
    valid = rows[~group_refused]
    groups_by_wave = {w: list(pd.unique(g)) for w, g in valid.groupby("wave", sort=False)["group"]}
    info["type_names"] = groups_by_wave
    unit = "valid answers (n)" if table.has_n else "weighted answers (no 'n' column)"

    questions: list[Question] = []
    skipped: list[SkippedQuestion] = []
    for (wave, name), q in rows.groupby(["wave", "question"], sort=False):
        options = [o for o in pd.unique(q["option"]) if not refused(o)]
        qv = q[~group_refused[q.index]]
        answered = qv[~option_refused[qv.index]]
        per_option = answered.groupby("option")[basis].sum().reindex(options, fill_value=0.0).to_numpy()
        n_refused = float(qv.loc[option_refused[qv.index], basis].sum())
        kept_idx, skip = screen_question(wave, name, options, per_option, n_refused, min_options,
                                         min_answers_per_option, unit=unit)
        if skip is not None:
            skipped.append(skip)
            continue
        kept_options = [options[i] for i in kept_idx]
        groups = groups_by_wave[wave]
        cells = answered[answered["option"].isin(kept_options)]
        g_idx = pd.Index(groups).get_indexer(cells["group"])
        o_idx = pd.Index(kept_options).get_indexer(cells["option"])
        counts = np.zeros((len(groups), len(kept_options)))
        np.add.at(counts, (g_idx, o_idx), cells["weighted_count"].to_numpy(dtype=float))
        n_counts = None
        if table.has_n:
            n_counts = np.zeros_like(counts)
            np.add.at(n_counts, (g_idx, o_idx), cells["n"].to_numpy(dtype=float))
        texts = [t for t in q["text"] if t]
        questions.append(
            Question(
                wave=wave,
                name=name,
                text=texts[0] if texts else "",
                options=kept_options,
                codes=[float(i + 1) for i in range(len(kept_options))],
                type_names=list(groups),
                counts=counts,
                type_idx=None,
                answer_idx=None,
                weight=None,
                n_respondents=int(n_counts.sum()) if n_counts is not None else None,
                n_counts=n_counts,
                source="counts",
            )
        )
    info["n_questions"], info["n_skipped"] = len(questions), len(skipped)
    return questions, skipped, info




def _lines(lines) -> str:
    """``line 17`` or ``lines 17, 18, 30 (and 4 more)`` from 1-based line numbers."""
    lines = [int(v) for v in lines]
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(map(str, lines[:_MAX_LINES_SHOWN]))
    more = f" (and {len(lines) - _MAX_LINES_SHOWN} more)" if len(lines) > _MAX_LINES_SHOWN else ""
    return f"lines {shown}{more}"



def _wave_id(text: str) -> str:
    """A counts table's wave cell: ``128`` / ``w128`` → ``W128``; other names kept as written."""
    try:
        return normalize_wave(text) if text else ""
    except ValueError:
        return text



def _load_counts(path_or_df) -> tuple[str, pd.DataFrame]:
    """The table as stripped text cells plus a ``line`` column (1-based, header = line 1)."""
    expected = (f"expected a CSV header with columns {', '.join(COUNTS_REQUIRED)} "
                f"(optional: {', '.join(COUNTS_OPTIONAL)})")
    if isinstance(path_or_df, pd.DataFrame):
        source = "<DataFrame>"
        table = path_or_df.copy()
        table.columns = [str(c).strip() for c in table.columns]
        table = table.astype(object).where(table.notna(), "").astype(str).apply(lambda c: c.str.strip())
        table["line"] = np.arange(len(table)) + 2
    else:
        path = Path(path_or_df)
        source = str(path)
        if not path.is_file():
            raise SurveyFileError(f"{source}: counts table not found", "not_found")
        raw = path.read_bytes()
        if not raw.strip():
            raise SurveyFileError(f"{source}: empty file; {expected}")
        nul = raw.find(b"\0")
        if nul >= 0:
            raise SurveyFileError(f"{source}: not a text CSV file (binary content: NUL byte at offset {nul})")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SurveyFileError(f"{source}: not a UTF-8 text CSV file "
                                  f"(undecodable byte at offset {exc.start})") from exc
        reader = csv.reader(io.StringIO(text, newline=""))
        records, previous = [], 0
        try:
            for record in reader:
                start, previous = previous + 1, reader.line_num  # a quoted field may span lines
                if record:  # csv gives [] for a blank line
                    records.append((start, [c.strip() for c in record]))
        except csv.Error as exc:
            raise SurveyFileError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from exc
        if not records:
            raise SurveyFileError(f"{source}: empty file; {expected}")
        (_, header), data = records[0], records[1:]
        bad = [line for line, rec in data if len(rec) != len(header)]
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            raise SurveyFileError(f"{source}: line 1 (header): one column {header[0][:60]!r}; counts tables are "
                                  f"comma-separated (found ';', tab or '|')", "unreadable")
        if bad:
            n_fields = {line: len(rec) for line, rec in data}
            raise SurveyFileError(f"{source}: {_lines(bad)}: {n_fields[bad[0]]} field(s) where the header "
                                  f"(line {records[0][0]}) has {len(header)}", "invalid")
        table = pd.DataFrame([rec for _, rec in data], columns=header, dtype=object)
        table["line"] = [line for line, _ in data]
    dupes = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if dupes:
        raise SurveyFileError(f"{source}: line 1 (header): column(s) {dupes} appear more than once", "invalid")
    missing = [c for c in COUNTS_REQUIRED if c not in table.columns]
    if missing:
        raise SurveyFileError(f"{source}: line 1 (header): missing column(s) {missing}; {expected}", "missing_column")
    if table.empty:
        raise SurveyFileError(f"{source}: header only, no data rows; one row per (wave, question, option, group) "
                              f"expected", "invalid")
    return source, table.reset_index(drop=True)



def rows_for(table: CountsTable, columns: tuple) -> tuple[pd.DataFrame | None, tuple | None]:
    """Rows of ``table`` for the types of ``columns``: exact, or summed from the smallest
    partition containing every column (``derived_from``); ``(None, None)`` when there is none."""
    rows = table.rows
    exact = rows[rows["columns"].map(lambda c: c == columns)]
    if len(exact):
        return exact, None
    wider = [c for c in table.column_sets() if set(columns) <= set(c)]
    if not wider:
        return None, None
    source = min(wider, key=len)  # first of the smallest, in order of appearance
    sub = rows[rows["columns"].map(lambda c: c == source)].copy()
    pos = [source.index(c) for c in columns]
    sub["group"] = sub["group"].map(lambda g: GROUP_SEPARATOR.join(g.split(GROUP_SEPARATOR)[i] for i in pos))
    agg = {"weighted_count": "sum", "text": lambda t: next((x for x in t if x), ""), "line": "min"}
    if table.has_n:
        agg["n"] = "sum"
    summed = sub.groupby(["wave", "question", "option", "group"], sort=False, as_index=False).agg(agg)
    summed["columns"] = [columns] * len(summed)
    summed["types_key"] = "\x1f".join(columns)
    return summed, source

