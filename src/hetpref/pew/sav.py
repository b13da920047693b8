"""Read one Pew American Trends Panel wave from its SPSS ``.sav`` file (docs/spec.md §6).

:func:`read_wave` (built on :func:`pyreadstat.read_sav`) gives, for every question column, the
weighted number of respondents of each user type (``F_PARTYSUM_FINAL`` by default, or the
combinations of several type columns) choosing each option, plus the respondent-level arrays
behind those counts, through the question filters of :func:`hetpref.pew.questions.screen_question`.

Cleaning: respondents whose type is empty or refused are dropped, as are respondents with an
empty or non-positive survey weight (``WEIGHT_W<n>``); both are counted in ``info``. Answers
that are empty (question not asked, e.g. to the other ``FORM``) or refused are dropped per
question; an option no remaining respondent chose is not an option (a wave only knows the codes
that were answered). Answers are counted unweighted (respondents).
"""
from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .questions import (
    DEFAULT_TYPE_COLUMNS,
    GROUP_SEPARATOR,
    Question,
    SkippedQuestion,
    SurveyFileError,
    normalize_wave,
    screen_question,
)

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

WEIGHT_COLUMN = re.compile(r"^WEIGHT_(W\d+)$")


def is_question_column(name: str) -> bool:
    """True for columns that are neither metadata (:data:`METADATA_PREFIXES`) nor demographics."""
    return not (name.startswith(METADATA_PREFIXES) or name.startswith(DEMOGRAPHIC_PREFIX))




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
        Skip thresholds (docs/spec.md §6: 3 options, 100 valid answers per option on average).
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


