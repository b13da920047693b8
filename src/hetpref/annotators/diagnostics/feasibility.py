"""Which of the paper's three information settings a table supports (docs/spec.md §4–6):
counts of pairs, annotators, same-annotator pairs, pairs judged by every type, the unanimous share
by number of types, and whether each view builds (or the counts it gives for refusing)."""
from __future__ import annotations

import logging

import numpy as np

from hetpref.runtime import InputError

from .coding import Coded, type_majority

log = logging.getLogger(__name__)


def unanimity(coded: Coded) -> dict:
    """Unanimous share among pairs judged by >= k types, k = 2..U.

    A type's label on a pair is its majority (:func:`~.coding.type_majority`); a pair is unanimous
    when every type that judged it gives the same strict label (a tie or an even split is not
    unanimous). Returns per-pair arrays (``n_types``, ``unanimous``) and the table ``by_k``."""
    majority, n = type_majority(coded)
    present = n > 0
    m = present.sum(1)
    pos = np.where(present, majority == 1, True).all(1)
    neg = np.where(present, majority == -1, True).all(1)
    unanimous = (pos | neg) & (m > 0)
    rows = []
    for k in range(2, coded.n_types + 1):
        sel = m >= k
        rows.append({"k": k, "pairs": int(sel.sum()),
                     "unanimous": int(unanimous[sel].sum()),
                     "share": float(unanimous[sel].mean()) if sel.any() else float("nan")})
    return {"n_types": m, "unanimous": unanimous, "by_k": rows}


def _view_status(name: str, build) -> dict:
    """Build one view; a refusal (an input error naming the counts) is recorded, not raised."""
    try:
        view = build()
    except InputError as exc:
        log.info("view %s refused: %s", name, exc)
        return {"view": name, "allowed": False, "rows": 0, "reason": str(exc)}
    return {"view": name, "allowed": True, "rows": int(len(view)), "reason": ""}


def view_statuses(table, type_attribute: str | None, seed: int = 0) -> list[dict]:
    """Whether each of the three views builds on ``table``, with its row count or the refusal."""
    from hetpref.annotators import views

    out = [_view_status("anonymous", lambda: views.anonymous_view(table, seed=seed)),
           _view_status("same_annotator_pairs", lambda: views.same_annotator_pairs(table, seed=seed))]
    if type_attribute is None:
        why = f"no type attribute given (the table's annotator attributes: {list(table.attributes) or 'none'})"
        log.info("view per_type not built: %s", why)
        out.append({"view": "per_type", "allowed": False, "rows": 0, "reason": why})
    else:
        out.append(_view_status("per_type", lambda: views.per_type_view(table, type_attribute, seed=seed)))
    return out


def feasibility(table, coded: Coded, type_attribute: str, seed: int = 0, with_views: bool = True) -> dict:
    """The feasibility section of the report (all counts are of distinct items).

    ``same_annotator_pairs``: Σ_annotators ⌊m/2⌋ with m the annotator's distinct pairs (disjoint
    pairs of pairs, each judgement used once, the most the Eq. 19 estimator can use independently);
    ``same_annotator_pairs_all``: Σ C(m, 2), every pair of pairs."""
    per_annotator = np.bincount(coded.annotator[_first_of(coded.annotator * coded.n_pairs + coded.pair)],
                                minlength=coded.n_annotators)
    un = unanimity(coded)
    annotators_per_type = np.bincount(
        coded.type[_first_of(coded.annotator)], minlength=coded.n_types)
    out = {
        "type_attribute": type_attribute,
        "types": list(coded.type_names),
        "judgements": int(len(coded.pair)),
        "pairs": int(coded.n_pairs),
        "prompts": int(len(coded.prompt_ids)),
        "responses": int(len(coded.response_ids)),
        "annotators": int(coded.n_annotators),
        "annotators_per_type": dict(zip(coded.type_names, annotators_per_type.tolist())),
        "judgements_per_type": dict(zip(coded.type_names, np.bincount(coded.type, minlength=coded.n_types).tolist())),
        "ties": int((coded.sign == 0).sum()),
        "annotators_with_two_pairs": int((per_annotator >= 2).sum()),
        "same_annotator_pairs": int((per_annotator // 2).sum()),
        "same_annotator_pairs_all": int((per_annotator * (per_annotator - 1) // 2).sum()),
        "pairs_with_every_type": int((un["n_types"] == coded.n_types).sum()),
        "unanimous_by_types": un["by_k"],
        "anonymous_only": bool(getattr(table, "anonymous_only", False)),
    }
    if with_views:
        out["views"] = view_statuses(table, type_attribute, seed)
    return out


def _first_of(keys: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct key."""
    _, idx = np.unique(keys, return_index=True)
    return idx
