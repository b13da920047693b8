"""Read Pew American Trends Panel waves into per-question weighted counts (MATH.md §6).

One parser, built on :func:`pyreadstat.read_sav`, turns a wave's ``.sav`` file into a list of
:class:`Question` objects: for every question column, the weighted number of respondents of
each user type (``F_PARTYSUM_FINAL`` by default) choosing each option, plus the
respondent-level arrays behind those counts. Questions that cannot be used are never dropped
silently: each one becomes a :class:`SkippedQuestion` with a machine-readable reason
(:data:`SKIP_REASONS`).

Cleaning rules (MATH.md §6):

- respondents whose type is empty or a refused code (99) are dropped, as are respondents
  with an empty or non-positive survey weight (``WEIGHT_W<n>``); both are counted in ``info``;
- answers that are empty (question not asked, e.g. to the other ``FORM``) or a refused code
  are dropped per question;
- a question is skipped when it is not numeric, has no valid answer left, has fewer than
  ``min_options`` distinct valid options, or fewer than ``min_answers_per_option`` valid
  answers per option on average.

:func:`read_counts_table` reads already aggregated counts (a CSV) into the same
:class:`Question` type, with the respondent-level fields left ``None``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
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

#: Reasons a question column is skipped, in the order they are checked.
SKIP_REASONS = ("non_numeric", "all_refused", "too_few_options", "too_few_answers")

WEIGHT_COLUMN = re.compile(r"^WEIGHT_(W\d+)$")
_COUNTS_REQUIRED = ("question", "option", "group", "weighted_count")
_COUNTS_TEXT_COLUMNS = ("wave", "question", "option", "group", "text")


class SurveyFileError(ValueError):
    """A survey file cannot be used; the message names the file, the column and what was expected."""


@dataclass
class Question:
    """One survey question: weighted type × option counts and the respondents behind them.

    ``counts[t, k]`` is the sum of survey weights of the valid respondents of type
    ``type_names[t]`` who chose option ``options[k]`` (code ``codes[k]``). The respondent-level
    arrays (``type_idx``, ``answer_idx``, ``weight``; one entry per valid respondent) are
    ``None`` for questions read from an aggregated table.
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
    n_respondents: int


@dataclass
class SkippedQuestion:
    """A question column that was not turned into a :class:`Question`, and why."""

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


def read_wave(
    path: str | PathLike,
    wave: str | int | None = None,
    type_columns=("F_PARTYSUM_FINAL",),
    refused_codes=(99,),
    min_options: int = 3,
    min_answers_per_option: float = 100,
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

    Returns
    -------
    (questions, skipped, info)
        ``info`` has keys ``file, wave, weight_column, type_columns, n_respondents_total,
        n_dropped_type, n_dropped_weight, n_questions, n_skipped, type_names``.
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

    df, meta = _read_sav(path)
    weight_column, wave = _find_weight_column(df, path, wave)
    value_labels = getattr(meta, "variable_value_labels", None) or {}
    column_labels = getattr(meta, "column_names_to_labels", None) or {}

    for col in type_columns:
        if col not in df.columns:
            raise SurveyFileError(f"{path}: missing type column {col!r} (expected one of the F_ demographics)")
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise SurveyFileError(f"{path}: type column {col!r} must hold numeric codes, found dtype {df[col].dtype}")
    if not pd.api.types.is_numeric_dtype(df[weight_column]):
        raise SurveyFileError(
            f"{path}: weight column {weight_column!r} must be numeric, found dtype {df[weight_column].dtype}"
        )

    # Respondent filters: computed once, shared by every question of the wave.
    type_codes = df[list(type_columns)].to_numpy(dtype=float)
    type_ok = ~(np.isnan(type_codes) | np.isin(type_codes, refused)).any(axis=1)
    weights = df[weight_column].to_numpy(dtype=float)
    weight_ok = np.isfinite(weights) & (weights > 0)
    keep = type_ok & weight_ok
    if not keep.any():
        raise SurveyFileError(
            f"{path}: no respondent has a valid type in {list(type_columns)} and a positive {weight_column!r}"
        )

    combos, type_idx = np.unique(type_codes[keep], axis=0, return_inverse=True)
    type_idx = np.asarray(type_idx, dtype=np.int64).reshape(-1)
    type_names = [
        " / ".join(_code_label(value_labels.get(col, {}), code) for col, code in zip(type_columns, row))
        for row in combos
    ]
    n_types = len(type_names)

    kept = df.loc[keep]
    kept_weights = weights[keep]
    questions: list[Question] = []
    skipped: list[SkippedQuestion] = []

    def skip(name, reason, detail):
        skipped.append(SkippedQuestion(wave=wave, name=name, reason=reason, detail=detail))

    for col in df.columns:
        if not is_question_column(col) or col in type_columns:
            continue
        series = kept[col]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            skip(col, "non_numeric", f"column dtype is {series.dtype}, expected numeric answer codes")
            continue
        answers = series.to_numpy(dtype=float)
        is_empty = np.isnan(answers)
        is_refused = np.isin(answers, refused)
        valid = ~(is_empty | is_refused)
        n_valid = int(valid.sum())
        if n_valid == 0:
            skip(
                col,
                "all_refused",
                f"no valid answer: {int(is_refused.sum())} refused, {int(is_empty.sum())} empty "
                f"among {len(answers)} respondents",
            )
            continue
        codes = np.unique(answers[valid])
        if len(codes) < min_options:
            skip(col, "too_few_options", f"{len(codes)} valid option(s) {codes.tolist()}, need >= {min_options}")
            continue
        per_option = n_valid / len(codes)
        if per_option < min_answers_per_option:
            skip(
                col,
                "too_few_answers",
                f"{n_valid} valid answers over {len(codes)} options = {per_option:.1f} per option, "
                f"need >= {min_answers_per_option}",
            )
            continue

        n_options = len(codes)
        answer_idx = np.searchsorted(codes, answers[valid]).astype(np.int64)
        q_type_idx = type_idx[valid]
        q_weight = kept_weights[valid]
        # One bincount over the flattened (type, option) cell index = weighted cross-tab.
        counts = np.bincount(
            q_type_idx * n_options + answer_idx, weights=q_weight, minlength=n_types * n_options
        ).reshape(n_types, n_options)
        labels = value_labels.get(col, {})
        questions.append(
            Question(
                wave=wave,
                name=col,
                text=column_labels.get(col) or "",
                options=[_code_label(labels, c) for c in codes],
                codes=[float(c) for c in codes],
                type_names=list(type_names),
                counts=counts,
                type_idx=q_type_idx,
                answer_idx=answer_idx,
                weight=q_weight,
                n_respondents=n_valid,
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
    }
    return questions, skipped, info


def skipped_table(skipped) -> pd.DataFrame:
    """Skipped questions as a DataFrame with columns ``wave, question, reason, detail``."""
    return pd.DataFrame(
        [(s.wave, s.name, s.reason, s.detail) for s in skipped],
        columns=["wave", "question", "reason", "detail"],
    )


def read_counts_table(path_or_df) -> list[Question]:
    """Build questions from an aggregated counts table (CSV path or DataFrame).

    Required columns: ``question, option, group, weighted_count``; optional ``wave`` (default
    ``""``), ``text`` (first non-empty value per question) and ``n`` (unweighted respondents,
    summed per question; ``n_respondents`` is 0 without it). One row per
    (wave, question, option, group); missing cells count 0.

    Questions come in order of first appearance, options in order of first appearance within
    their question, and groups sorted by name over the whole wave, so that every question of a
    wave shares the same ``type_names``. Aggregated tables carry no answer codes, so ``codes``
    are the 1-based option positions. Respondent-level fields are ``None``.

    Raises :class:`SurveyFileError` naming the file for an unreadable file, missing columns,
    invalid counts, duplicate rows or an empty table.
    """
    if isinstance(path_or_df, pd.DataFrame):
        source = "<DataFrame>"
        table = path_or_df.copy()
    else:
        source = str(path_or_df)
        try:
            # Everything as text first: option labels like "1" or "None" must stay as written.
            table = pd.read_csv(path_or_df, dtype=str, keep_default_na=False)
        except Exception as exc:  # any parser/OS failure means the file cannot be used
            raise SurveyFileError(f"{source}: could not read counts table: {exc}") from exc

    missing = [c for c in _COUNTS_REQUIRED if c not in table.columns]
    if missing:
        raise SurveyFileError(
            f"{source}: missing column(s) {missing}; expected columns "
            f"{list(_COUNTS_REQUIRED)} (optional: wave, text, n)"
        )
    if table.empty:
        raise SurveyFileError(f"{source}: counts table has no rows")
    if "wave" not in table.columns:
        table["wave"] = ""
    for col in _COUNTS_TEXT_COLUMNS:
        if col in table.columns:
            table[col] = table[col].fillna("").astype(str)

    table["weighted_count"] = _numeric_column(table, "weighted_count", source)
    has_n = "n" in table.columns
    if has_n:
        table["n"] = _numeric_column(table, "n", source)
        if not np.all(np.mod(table["n"].to_numpy(), 1) == 0):
            raise SurveyFileError(f"{source}: column 'n' must hold whole numbers of respondents")

    key = ["wave", "question", "option", "group"]
    dup = table.duplicated(key, keep=False)
    if dup.any():
        first = table.loc[dup, key].iloc[0].tolist()
        raise SurveyFileError(
            f"{source}: {int(dup.sum())} duplicate rows for the same (wave, question, option, group), e.g. {first}"
        )

    groups_by_wave = {w: sorted(g.unique()) for w, g in table.groupby("wave", sort=False)["group"]}
    questions: list[Question] = []
    for (wave, name), rows in table.groupby(["wave", "question"], sort=False):
        groups = groups_by_wave[wave]
        options = list(pd.unique(rows["option"]))
        group_idx = pd.Index(groups).get_indexer(rows["group"])
        option_idx = pd.Index(options).get_indexer(rows["option"])
        counts = np.zeros((len(groups), len(options)))
        counts[group_idx, option_idx] = rows["weighted_count"].to_numpy(dtype=float)
        texts = [t for t in rows["text"] if t] if "text" in rows.columns else []
        questions.append(
            Question(
                wave=wave,
                name=name,
                text=texts[0] if texts else "",
                options=options,
                codes=[float(i + 1) for i in range(len(options))],
                type_names=list(groups),
                counts=counts,
                type_idx=None,
                answer_idx=None,
                weight=None,
                n_respondents=int(rows["n"].sum()) if has_n else 0,
            )
        )
    return questions


# --------------------------------------------------------------------------- helpers


def _read_sav(path: Path):
    """``pyreadstat.read_sav`` with every failure turned into a :class:`SurveyFileError`."""
    import pyreadstat  # imported here so the rest of hetpref works without it

    if not path.is_file():
        raise SurveyFileError(f"{path}: survey file not found")
    try:
        return pyreadstat.read_sav(str(path))
    except Exception as exc:  # ReadstatError, PyreadstatError, decoding errors, ...
        raise SurveyFileError(f"{path}: could not read SPSS .sav file ({type(exc).__name__}: {exc})") from exc


def _find_weight_column(df: pd.DataFrame, path: Path, wave) -> tuple[str, str]:
    """The wave's weight column and wave id (given, or inferred from ``WEIGHT_W<n>``)."""
    if wave is not None:
        wave = normalize_wave(wave)
        expected = f"WEIGHT_{wave}"
        if expected not in df.columns:
            raise SurveyFileError(f"{path}: missing weight column {expected!r} for wave {wave}")
        return expected, wave
    found = [c for c in df.columns if WEIGHT_COLUMN.match(c)]
    if not found:
        raise SurveyFileError(f"{path}: missing weight column; expected a column named WEIGHT_W<n> (e.g. WEIGHT_W128)")
    if len(found) > 1:
        raise SurveyFileError(f"{path}: several weight columns {found}; pass wave= to choose one")
    return found[0], WEIGHT_COLUMN.match(found[0]).group(1)


def _code_label(labels: dict, code: float) -> str:
    """Value label of ``code``, or the code itself as text (``3`` rather than ``3.0``)."""
    label = labels.get(code)
    if label is None and float(code).is_integer():
        label = labels.get(int(code))  # label dicts may be keyed by int or float
    if label is not None:
        return str(label)
    return str(int(code)) if float(code).is_integer() else str(float(code))


def _numeric_column(table: pd.DataFrame, col: str, source: str) -> pd.Series:
    """``table[col]`` as finite non-negative floats, or a :class:`SurveyFileError` naming the rows."""
    values = pd.to_numeric(table[col].replace("", np.nan), errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise SurveyFileError(
            f"{source}: column {col!r} must hold finite non-negative numbers; bad value(s) at row(s) {rows}"
        )
    return values
