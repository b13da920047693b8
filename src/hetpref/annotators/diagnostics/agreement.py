"""Krippendorff's alpha within and between types, from the ``krippendorff`` package (nominal level).

Reliability-data layout: the package's ``value_counts`` form, one row per unit (a pair) and one
column per value (``a``, ``b``, ``tie``), each cell the number of ratings of that value.

- **within type t**: the units are the pairs judged at least twice by annotators of type t; the
  ratings are those annotators' labels (the coders are annotators; who is who does not matter at
  the nominal level);
- **between types**: the units are the pairs judged by at least two types; the ratings are the
  types' majority labels (:func:`~.coding.type_majority`; an even split counts as ``tie``), one per
  type, so the coders are the types.

Alpha is NaN, with the reason, when fewer than one unit has two ratings or when the ratings show a
single value (no expected disagreement)."""
from __future__ import annotations

import logging

import krippendorff
import numpy as np

from .coding import Coded, type_majority

VALUES = ("a", "b", "tie")
log = logging.getLogger(__name__)


def _counts(unit: np.ndarray, sign: np.ndarray, n_units: int) -> np.ndarray:
    """value_counts[n_units, 3] from each rating's unit and sign (+1 → a, −1 → b, 0 → tie)."""
    col = np.where(sign == 1, 0, np.where(sign == -1, 1, 2))
    return np.bincount(unit * 3 + col, minlength=n_units * 3).reshape(n_units, 3)


def alpha_from_counts(value_counts: np.ndarray, what: str = "alpha") -> dict:
    """Nominal alpha of a value_counts matrix, with the number of pairable units and ratings."""
    vc = np.asarray(value_counts)
    single = int((vc.sum(1) == 1).sum())
    if single:
        log.info("%s: %d pair(s) with a single rating left out (not pairable)", what, single)
    vc = vc[vc.sum(1) >= 2]
    units, ratings = int(len(vc)), int(vc.sum())
    if units == 0:
        return {"alpha": float("nan"), "units": 0, "ratings": 0, "reason": "no pair has two ratings"}
    if (vc.sum(0) > 0).sum() < 2:
        return {"alpha": float("nan"), "units": units, "ratings": ratings,
                "reason": "all ratings have one value (no expected disagreement)"}
    value = float(krippendorff.alpha(value_counts=vc, value_domain=list(VALUES), level_of_measurement="nominal"))
    return {"alpha": value, "units": units, "ratings": ratings, "reason": ""}


def agreement(coded: Coded) -> dict:
    """Alpha within each type and between types (see the module docstring for the layout)."""
    within = {}
    for t, name in enumerate(coded.type_names):
        sel = coded.type == t
        within[name] = alpha_from_counts(_counts(coded.pair[sel], coded.sign[sel], coded.n_pairs),
                                         f"alpha within {name}")
    overall = alpha_from_counts(_counts(coded.pair, coded.sign, coded.n_pairs), "alpha of all annotators")
    majority, n = type_majority(coded)
    rows, cols = np.nonzero(n > 0)
    between = alpha_from_counts(_counts(rows, majority[rows, cols], coded.n_pairs), "alpha between types")
    return {"within": within, "between": between, "all_annotators": overall,
            "level": "nominal", "values": list(VALUES)}
