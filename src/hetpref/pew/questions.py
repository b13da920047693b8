"""The survey question model shared by every Pew input kind (docs/spec.md §6), and its screening.

A :class:`Question` holds one question's weighted type × option counts (and, from a ``.sav``,
the respondents behind them); a :class:`SkippedQuestion` records why a question was not used,
with a machine-readable reason (:data:`SKIP_REASONS`). The question filters are implemented
once, in :func:`screen_question`, for ``.sav`` waves (:mod:`hetpref.pew.sav`) and counts tables
(:mod:`hetpref.pew.counts`) alike:

- an option no remaining respondent chose is not an option of the question;
- a question is skipped when it is not numeric (``.sav`` only: ``non_numeric``), has no valid
  answer left (``all_refused``), has fewer than ``min_options`` options (``too_few_options``),
  or fewer than ``min_answers_per_option`` valid answers per option on average
  (``too_few_answers``).

"Refused" is a code in a ``.sav`` (``refused_codes``, 99) and a label in a counts table
(:func:`is_refused_label`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Reasons a question is skipped, in the order they are checked.
SKIP_REASONS = ("non_numeric", "all_refused", "too_few_options", "too_few_answers")
DEFAULT_TYPE_COLUMNS = ("F_PARTYSUM_FINAL",)
DEFAULT_REFUSED_LABELS = ("Refused", "DK/REF")
#: Joins the labels of several type columns into one type (group) name.
GROUP_SEPARATOR = " / "


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
    """The question filters (docs/spec.md §6), one implementation for every input kind.

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



def skipped_table(skipped) -> pd.DataFrame:
    """Skipped questions as a DataFrame with columns ``wave, question, reason, detail``."""
    return pd.DataFrame(
        [(s.wave, s.name, s.reason, s.detail) for s in skipped],
        columns=["wave", "question", "reason", "detail"],
    )




def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{float(x):.1f}"


