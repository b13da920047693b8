"""Read Pew American Trends Panel inputs into per-question weighted counts (MATH.md §6).

Two kinds of input give the same :class:`Question` objects:

- a wave's SPSS ``.sav`` file (:func:`read_wave`, built on :func:`pyreadstat.read_sav`): for
  every question column, the weighted number of respondents of each user type (``F_PARTYSUM_FINAL``
  by default) choosing each option, plus the respondent-level arrays behind those counts;
- an aggregated counts table (:func:`read_counts_table`, a CSV with one row per
  (wave, question, option, group)): the weighted and, optionally, unweighted counts.

Both go through the **same question filters**, implemented once in :func:`screen_question`.
Questions that cannot be used are never dropped silently: each one becomes a
:class:`SkippedQuestion` with a machine-readable reason (:data:`SKIP_REASONS`).

Cleaning (MATH.md §6):

- respondents whose type is empty or refused are dropped (a counts table's refused groups), as
  are respondents with an empty or non-positive survey weight (``WEIGHT_W<n>``); both are
  counted in ``info``;
- answers that are empty (question not asked, e.g. to the other ``FORM``) or refused are
  dropped per question (a counts table's refused options);
- an option no remaining respondent chose is not an option of the question (a ``.sav`` wave
  only knows the codes that were answered; a counts table's all-zero option rows are treated
  the same way);
- a question is skipped when it is not numeric (``.sav`` only: ``non_numeric``), has no valid
  answer left (``all_refused``), has fewer than ``min_options`` options (``too_few_options``),
  or fewer than ``min_answers_per_option`` valid answers per option on average
  (``too_few_answers``). Answers are counted unweighted: respondents in a ``.sav``, the ``n``
  column of a counts table — or, for a table without ``n``, its weighted counts (Pew weights
  are scaled to mean 1 over a wave's sample, so a weighted count approximates a number of
  respondents; ``info["answer_basis"]`` and each skip's detail say which was used).

"Refused" is a code in a ``.sav`` (``refused_codes``, 99) and a label in a counts table: an
option or group is refused when its label is one of ``refused_labels`` (case-insensitive) or is
a refused code written as a number ("99"). A group that combines several columns (labels joined
with ``" / "``, as :func:`read_wave` names combined types) is refused when any part is.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

#: Column-name prefixes of survey metadata (never questions).
METADATA_PREFIXES = (
    "QKEY",
    "INTERVIEW_START_",
    "INTERVIEW_END_",
    "DEVICE_TYPE_",
    "LANG_",
    "FORM_",
    "XTABLET_",
    "TECHHELP_",
    "SMARTPHONE_",
    "SNSUSE_",
    "WEIGHT_",
    "DIGCONF_",
)
#: Demographic columns (never questions; the type column is one of them).
DEMOGRAPHIC_PREFIX = "F_"

#: Reasons a question is skipped, in the order they are checked.
SKIP_REASONS = ("non_numeric", "all_refused", "too_few_options", "too_few_answers")

WEIGHT_COLUMN = re.compile(r"^WEIGHT_(W\d+)$")
DEFAULT_TYPE_COLUMNS = ("F_PARTYSUM_FINAL",)
DEFAULT_REFUSED_LABELS = ("Refused", "DK/REF")
#: Joins the labels of several type columns into one type (group) name.
GROUP_SEPARATOR = " / "

#: Counts-table columns: required ones first; the others are optional.
COUNTS_REQUIRED = ("question", "option", "group", "weighted_count")
COUNTS_OPTIONAL = ("wave", "text", "n", "partition")
#: Statuses a counts table can get (besides ``ok``): see :class:`SurveyFileError`.
_MAX_LINES_SHOWN = 5


class SurveyFileError(ValueError):
    """A survey file cannot be used; the message names the file, the line and column where there
    is one, and what was expected. ``status`` classifies the problem for the data report:
    ``not_found``, ``unreadable`` (not a readable file of its kind), ``missing_column`` or
    ``invalid`` (readable, but with values that cannot be right)."""

    def __init__(self, message: str, status: str = "unreadable"):
        super().__init__(message)
        self.status = status


@dataclass
class Question:
    """One survey question: weighted type × option counts and the respondents behind them.

    ``counts[t, k]`` is the sum of survey weights of the valid respondents of type
    ``type_names[t]`` who chose option ``options[k]`` (code ``codes[k]``); ``n_counts[t, k]`` the
    number of those respondents (``None`` for a counts table without an ``n`` column). The
    respondent-level arrays (``type_idx``, ``answer_idx``, ``weight``; one entry per valid
    respondent) are ``None`` for questions read from an aggregated table. ``n_respondents`` is
    the number of valid answers (``None`` when only weighted counts were given).
    """

    wave: str
    name: str
    text: str
    options: list[str]
    codes: list[float]
    type_names: list[str]
    counts: np.ndarray
    type_idx: np.ndarray | None
    answer_idx: np.ndarray | None
    weight: np.ndarray | None
    n_respondents: int | None
    n_counts: np.ndarray | None = None
    source: str = "sav"


@dataclass
class SkippedQuestion:
    """A question that was not turned into a :class:`Question`, and why."""

    wave: str
    name: str
    reason: str  # one of SKIP_REASONS
    detail: str


def normalize_wave(wave) -> str:
    """Canonical wave id: ``128``, ``"128"``, ``"w128"`` and ``"W128"`` all give ``"W128"``."""
    text = str(wave).strip().upper()
    if not text.startswith("W"):
        text = "W" + text
    if not re.fullmatch(r"W\d+", text):
        raise ValueError(f"wave must look like 'W128' or 128, got {wave!r}")
    return text


def is_question_column(name: str) -> bool:
    """True for columns that are neither metadata (:data:`METADATA_PREFIXES`) nor demographics."""
    return not (name.startswith(METADATA_PREFIXES) or name.startswith(DEMOGRAPHIC_PREFIX))


def is_refused_label(label, refused_codes=(99,), refused_labels=DEFAULT_REFUSED_LABELS) -> bool:
    """Whether a counts table's option or group label means "refused": one of ``refused_labels``
    (case-insensitive) or a refused code written as a number."""
    text = str(label).strip()
    if text.casefold() in {str(r).strip().casefold() for r in refused_labels}:
        return True
    try:
        return float(text) in {float(c) for c in refused_codes}
    except ValueError:
        return False


def screen_question(
    wave: str,
    name: str,
    options,
    n_valid,
    n_refused: float,
    min_options: int,
    min_answers_per_option: float,
    unit: str = "valid answers",
    context: str = "",
) -> tuple[np.ndarray, SkippedQuestion | None]:
    """The question filters (MATH.md §6), one implementation for every input kind.

    ``options`` are the question's non-refused options and ``n_valid`` their valid answers
    (after dropping refused types and refused or empty answers; unweighted where known).
    Options with no valid answer are dropped first. Returns ``(kept, None)`` with the indices of
    the options kept, or ``(empty, SkippedQuestion)`` with the first filter that fails, in the
    order of :data:`SKIP_REASONS`.
    """
    n_valid = np.asarray(n_valid, dtype=float).reshape(-1)
    kept = np.flatnonzero(n_valid > 0)
    total = float(n_valid[kept].sum())
    labels = [str(options[i]) for i in kept]

    def skip(reason, detail):
        return np.array([], dtype=int), SkippedQuestion(wave=wave, name=name, reason=reason, detail=detail)

    if len(kept) == 0:
        return skip("all_refused", f"no valid answer: {_num(n_refused)} refused{context}")
    if len(kept) < min_options:
        return skip("too_few_options", f"{len(kept)} valid option(s) {labels}, need >= {min_options}")
    per_option = total / len(kept)
    if per_option < min_answers_per_option:
        return skip(
            "too_few_answers",
            f"{_num(total)} {unit} over {len(kept)} options = {per_option:.1f} per option, "
            f"need >= {min_answers_per_option}",
        )
    return kept, None


# --------------------------------------------------------------------------- .sav waves


def read_wave(
    path: str | PathLike,
    wave: str | int | None = None,
    type_columns=DEFAULT_TYPE_COLUMNS,
    refused_codes=(99,),
    min_options: int = 3,
    min_answers_per_option: float = 100,
    frame=None,
) -> tuple[list[Question], list[SkippedQuestion], dict]:
    """Parse one Pew ``.sav`` wave into kept questions, skipped questions and a summary.

    Parameters
    ----------
    path:
        The wave's SPSS file.
    wave:
        Wave id (``"W128"`` or ``128``). By default it is inferred from the single
        ``WEIGHT_W<n>`` column; when given, the weight column must be ``WEIGHT_<wave>``.
    type_columns:
        Column(s) defining user types. With several columns, the types are the observed
        combinations of their codes (sorted by code), named by their value labels joined
        with ``" / "``.
    refused_codes:
        Codes meaning "Refused", dropped both from type columns and from answers.
    min_options, min_answers_per_option:
        Skip thresholds (MATH.md §6: 3 options, 100 valid answers per option on average).
    frame:
        ``(DataFrame, metadata)`` as returned by :func:`pyreadstat.read_sav`, to analyse one
        file under several type partitions without reading it again.

    Returns
    -------
    (questions, skipped, info)
        ``info`` has keys ``file, wave, weight_column, type_columns, n_respondents_total,
        n_dropped_type, n_dropped_weight, n_questions, n_skipped, type_names, answer_basis``.
        ``n_dropped_type`` counts respondents with an empty/refused type; ``n_dropped_weight``
        counts the remaining ones with an empty or non-positive weight (the two are disjoint).

    Raises
    ------
    SurveyFileError
        Unreadable file, missing/ambiguous weight column, missing or non-numeric type
        column, or no respondent left after cleaning.
    """
    path = Path(path)
    if isinstance(type_columns, str):
        type_columns = (type_columns,)
    type_columns = tuple(type_columns)
    if not type_columns:
        raise ValueError("type_columns must name at least one column")
    refused = np.asarray(refused_codes, dtype=float)

    df, meta = frame if frame is not None else read_sav(path)
    weight_column, wave = _find_weight_column(df, path, wave)
    value_labels = getattr(meta, "variable_value_labels", None) or {}
    column_labels = getattr(meta, "column_names_to_labels", None) or {}

    for col in type_columns:
        if col not in df.columns:
            raise SurveyFileError(
                f"{path}: missing type column {col!r} (expected one of the F_ demographics)", "missing_column"
            )
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise SurveyFileError(
                f"{path}: type column {col!r} must hold numeric codes, found dtype {df[col].dtype}", "invalid"
            )
    if not pd.api.types.is_numeric_dtype(df[weight_column]):
        raise SurveyFileError(
            f"{path}: weight column {weight_column!r} must be numeric, found dtype {df[weight_column].dtype}",
            "invalid",
        )

    # Respondent filters: computed once, shared by every question of the wave.
    type_codes = df[list(type_columns)].to_numpy(dtype=float)
    type_ok = ~(np.isnan(type_codes) | np.isin(type_codes, refused)).any(axis=1)
    weights = df[weight_column].to_numpy(dtype=float)
    weight_ok = np.isfinite(weights) & (weights > 0)
    keep = type_ok & weight_ok
    if not keep.any():
        raise SurveyFileError(
            f"{path}: no respondent has a valid type in {list(type_columns)} and a positive {weight_column!r}",
            "invalid",
        )

    combos, type_idx = np.unique(type_codes[keep], axis=0, return_inverse=True)
    type_idx = np.asarray(type_idx, dtype=np.int64).reshape(-1)
    type_names = [
        GROUP_SEPARATOR.join(_code_label(value_labels.get(col, {}), code) for col, code in zip(type_columns, row))
        for row in combos
    ]
    n_types = len(type_names)

    kept = df.loc[keep]
    kept_weights = weights[keep]
    questions: list[Question] = []
    skipped: list[SkippedQuestion] = []

    for col in df.columns:
        if not is_question_column(col) or col in type_columns:
            continue
        series = kept[col]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            skipped.append(SkippedQuestion(wave, col, "non_numeric",
                                           f"column dtype is {series.dtype}, expected numeric answer codes"))
            continue
        answers = series.to_numpy(dtype=float)
        is_empty = np.isnan(answers)
        is_refused = np.isin(answers, refused)
        valid = ~(is_empty | is_refused)
        codes, per_code = np.unique(answers[valid], return_counts=True)
        labels = value_labels.get(col, {})
        option_labels = [_code_label(labels, c) for c in codes]
        kept_idx, skip = screen_question(
            wave, col, option_labels, per_code, int(is_refused.sum()), min_options, min_answers_per_option,
            context=f", {int(is_empty.sum())} empty among {len(answers)} respondents with a valid type and weight",
        )
        if skip is not None:
            skipped.append(skip)
            continue

        n_options = len(codes)
        answer_idx = np.searchsorted(codes, answers[valid]).astype(np.int64)
        q_type_idx = type_idx[valid]
        q_weight = kept_weights[valid]
        # One bincount over the flattened (type, option) cell index = weighted cross-tab.
        cell = q_type_idx * n_options + answer_idx
        counts = np.bincount(cell, weights=q_weight, minlength=n_types * n_options).reshape(n_types, n_options)
        n_counts = np.bincount(cell, minlength=n_types * n_options).reshape(n_types, n_options)
        questions.append(
            Question(
                wave=wave,
                name=col,
                text=column_labels.get(col) or "",
                options=option_labels,
                codes=[float(c) for c in codes],
                type_names=list(type_names),
                counts=counts,
                type_idx=q_type_idx,
                answer_idx=answer_idx,
                weight=q_weight,
                n_respondents=int(valid.sum()),
                n_counts=n_counts.astype(float),
                source="sav",
            )
        )

    info = {
        "file": str(path),
        "wave": wave,
        "weight_column": weight_column,
        "type_columns": list(type_columns),
        "n_respondents_total": int(len(df)),
        "n_dropped_type": int((~type_ok).sum()),
        "n_dropped_weight": int((type_ok & ~weight_ok).sum()),
        "n_questions": len(questions),
        "n_skipped": len(skipped),
        "type_names": list(type_names),
        "answer_basis": "respondents",
    }
    return questions, skipped, info


def skipped_table(skipped) -> pd.DataFrame:
    """Skipped questions as a DataFrame with columns ``wave, question, reason, detail``."""
    return pd.DataFrame(
        [(s.wave, s.name, s.reason, s.detail) for s in skipped],
        columns=["wave", "question", "reason", "detail"],
    )


# --------------------------------------------------------------------------- counts tables


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
        same = single & (table[["types_key", "wave", "question"]] == first[["types_key", "wave", "question"]]).all(axis=1)
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


# --------------------------------------------------------------------------- helpers


def read_sav(path: str | PathLike, **kwargs):
    """``pyreadstat.read_sav`` with every failure turned into a :class:`SurveyFileError`."""
    import pyreadstat  # imported here so the rest of hetpref works without it

    path = Path(path)
    if not path.is_file():
        raise SurveyFileError(f"{path}: survey file not found", "not_found")
    try:
        return pyreadstat.read_sav(str(path), **kwargs)
    except Exception as exc:  # ReadstatError, PyreadstatError, decoding errors, ...
        raise SurveyFileError(f"{path}: could not read SPSS .sav file ({type(exc).__name__}: {exc})") from exc


def _find_weight_column(df: pd.DataFrame, path: Path, wave) -> tuple[str, str]:
    """The wave's weight column and wave id (given, or inferred from ``WEIGHT_W<n>``)."""
    if wave is not None:
        wave = normalize_wave(wave)
        expected = f"WEIGHT_{wave}"
        if expected not in df.columns:
            raise SurveyFileError(f"{path}: missing weight column {expected!r} for wave {wave}", "missing_column")
        return expected, wave
    found = [c for c in df.columns if WEIGHT_COLUMN.match(c)]
    if not found:
        raise SurveyFileError(
            f"{path}: missing weight column; expected a column named WEIGHT_W<n> (e.g. WEIGHT_W128)", "missing_column"
        )
    if len(found) > 1:
        raise SurveyFileError(f"{path}: several weight columns {found}; pass wave= to choose one", "invalid")
    return found[0], WEIGHT_COLUMN.match(found[0]).group(1)


def _code_label(labels: dict, code: float) -> str:
    """Value label of ``code``, or the code itself as text (``3`` rather than ``3.0``)."""
    label = labels.get(code)
    if label is None and float(code).is_integer():
        label = labels.get(int(code))  # label dicts may be keyed by int or float
    if label is not None:
        return str(label)
    return str(int(code)) if float(code).is_integer() else str(float(code))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{float(x):.1f}"


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
    expected = f"expected a CSV header with columns {', '.join(COUNTS_REQUIRED)} (optional: {', '.join(COUNTS_OPTIONAL)})"
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
            raise SurveyFileError(f"{source}: not a UTF-8 text CSV file (undecodable byte at offset {exc.start})") from exc
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
