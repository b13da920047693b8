"""The three views of a :class:`~hetpref.annotators.table.JudgementTable`, one per information
setting of the paper (docs/spec.md §4):

1. :func:`anonymous_view`: one judgement per pair, in TRL's ``prompt`` / ``chosen`` / ``rejected``
   format: the input of DPO (Eq. 6), which then targets the normalised Borda count (docs/spec.md §3);
2. :func:`same_annotator_pairs`: two judgements of two different pairs by the same annotator: the
   input of the Eq. 19 variance estimator of the corrected DPO (docs/spec.md §4);
3. :func:`per_type_view`: one row per pair with a label from every type (the values of an annotator
   attribute): the input of the consistent loss (Eq. 20).

Labels in views 2 and 3 are integers: ``+1`` (response a, or ``chosen``, preferred), ``-1`` (the
other preferred), ``0`` (tie, or undecided). Every view returns a non-empty frame or raises
:class:`EmptyViewError`; a view the data cannot support raises :class:`ViewRefused` with the counts
that show why. Everything dropped is logged (logger ``hetpref.annotators``) with its count.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hetpref.runtime import InputError

from .table import LABEL_SIGN, JudgementTable

log = logging.getLogger("hetpref.annotators")
TIE_RULES = ("drop", "resample")
MULTIPLE_RULES = ("majority", "drop", "sample")
MISSING_RULES = ("drop", "keep")


class ViewRefused(InputError):
    """The data cannot support the view; the message gives the counts that show why."""


class EmptyViewError(ViewRefused):
    """The view has no rows once its rules are applied; the message gives the counts."""


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; expected one of {list(allowed)}")


def _values(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].astype(object).map(LABEL_SIGN).to_numpy(dtype=np.int64)


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.iloc[np.random.default_rng(seed).permutation(len(frame))]


def _empty(table: JudgementTable, view: str, why: str) -> EmptyViewError:
    return EmptyViewError(f"{table.source}: the {view} view is empty: {why}.")


def anonymous_view(table: JudgementTable, tie: str = "drop", seed: int = 0) -> pd.DataFrame:
    """One judgement per pair, sampled uniformly with ``seed``, in TRL's format.

    Ties: ``tie="drop"`` samples among all of a pair's judgements and drops the pair when the
    sampled one is a tie (a single anonymous rater who saw no difference gives DPO no label);
    ``tie="resample"`` samples among the pair's non-tie judgements (pairs judged only as ties are
    dropped). Either way the count dropped is logged.

    Columns: ``prompt``, ``chosen``, ``rejected`` (TRL), ``pair_id``, ``prompt_id``, ``chosen_id``,
    ``rejected_id``, ``annotator_id``, the attributes, ``strength``, ``source_row``.
    """
    _choice("tie", tie, TIE_RULES)
    f = table.frame
    n_pairs = f["pair_id"].nunique()
    is_tie = (f["label"].astype(object) == "tie").to_numpy()
    pool = f[~is_tie] if tie == "resample" else f
    one = _shuffled(pool, seed).drop_duplicates("pair_id")
    if tie == "drop":
        sampled_ties = (one["label"].astype(object) == "tie").to_numpy()
        dropped = int(sampled_ties.sum())
        one = one[~sampled_ties]
    else:
        dropped = n_pairs - len(one)
    if dropped:
        log.info("anonymous view of %s: %d of %d pairs dropped (tie, rule tie=%r)", table.source, dropped, n_pairs,
                 tie)
    if not len(one):
        raise _empty(table, "anonymous", f"{n_pairs} pairs, {int(is_tie.sum())} of {len(f)} judgements are ties, "
                     f"and every pair's sampled judgement is a tie (rule tie={tie!r})")
    one = one.sort_values("source_row", kind="stable")
    a_wins = (one["label"].astype(object) == "a").to_numpy()
    out = pd.DataFrame({
        "prompt": one["prompt"].to_numpy(),
        "chosen": np.where(a_wins, one["response_a"].to_numpy(), one["response_b"].to_numpy()),
        "rejected": np.where(a_wins, one["response_b"].to_numpy(), one["response_a"].to_numpy()),
        "pair_id": one["pair_id"].to_numpy(),
        "prompt_id": one["prompt_id"].to_numpy(),
        "chosen_id": np.where(a_wins, one["response_a_id"].to_numpy(), one["response_b_id"].to_numpy()),
        "rejected_id": np.where(a_wins, one["response_b_id"].to_numpy(), one["response_a_id"].to_numpy()),
        "annotator_id": one["annotator_id"].to_numpy(),
    })
    for attr in table.attributes:
        out[attr] = one[attr].to_numpy()
    out["strength"] = one["strength"].to_numpy()
    out["source_row"] = one["source_row"].to_numpy()
    return out


def _refuse_anonymous(table: JudgementTable, view: str) -> None:
    if table.anonymous_only:
        f = table.frame
        per_id = f.groupby("annotator_id", sort=False).size()
        raise ViewRefused(
            f"{table.source}: the {view} view needs annotators who keep one identity across pairs, but the "
            f"{table.dataset} annotator entries are anonymous: {len(f)} judgements of {f['pair_id'].nunique()} pairs "
            f"carry {len(per_id)} distinct annotator ids, {int((per_id >= 2).sum())} of which judge 2 or more "
            "pairs: an entry's annotator cannot be followed from one pair to another"
            + ("" if view != "per-type" else ", and k labels from random anonymous raters, filtered for unanimity, "
               "target DPO's NBC, not the average reward")
            + ". Only the anonymous view is available for this table.")


def same_annotator_pairs(table: JudgementTable, seed: int = 0, tie: str = "drop") -> pd.DataFrame:
    """Pairs of two judgements of two different pairs by the same annotator (Eq. 19's input).

    Each annotator's judgements are shuffled with ``seed`` and paired off disjointly (judgement 1
    with 2, 3 with 4, ...), so every judgement is used at most once and an annotator with n usable
    judgements gives n // 2 rows (an odd one out is left). Several judgements of one pair by the
    same annotator count once (one sampled). Ties: ``tie="drop"`` removes tie judgements before
    pairing (Eq. 19 fits the binary label o·o'); ``tie="keep"`` keeps them with label 0.

    Columns: ``annotator_id``, the attributes, then for k in 1, 2: ``pair_id_k``, ``prompt_id_k``,
    ``prompt_k``, ``response_a_k``, ``response_b_k``, ``response_a_id_k``, ``response_b_id_k``,
    ``label_k`` (+1 a, -1 b, 0 tie), ``source_row_k``. Refused on anonymous tables (HelpSteer3).
    """
    _choice("tie", tie, ("drop", "keep"))
    _refuse_anonymous(table, "same-annotator pairs")
    f = table.frame
    g = f if tie == "keep" else f[(f["label"].astype(object) != "tie").to_numpy()]
    g = _shuffled(g, seed).drop_duplicates(["annotator_id", "pair_id"])
    repeats = (len(f) if tie == "keep" else int((f["label"].astype(object) != "tie").sum())) - len(g)
    if repeats:
        log.info("same-annotator pairs of %s: %d repeated judgements of a pair by one annotator counted once",
                 table.source, repeats)
    g = g.assign(_k=g.groupby("annotator_id", sort=False).cumcount())
    g = g.assign(_slot=g["_k"] % 2, _pairno=g["_k"] // 2)
    counts = g.groupby("annotator_id", sort=False).size()
    complete = g.groupby(["annotator_id", "_pairno"], sort=False)["_slot"].transform("size").to_numpy() == 2
    g = g[complete]
    if not len(g):
        per = f.groupby("annotator_id", sort=False)["pair_id"].nunique()
        raise _empty(table, "same-annotator pairs",
                     f"{len(per)} annotators, none with 2 or more usable judgements of different pairs "
                     f"(most pairs judged by one annotator: {int(per.max()) if len(per) else 0}; "
                     f"{int((f['label'].astype(object) == 'tie').sum())} tie judgements, rule tie={tie!r})")
    log.info("same-annotator pairs of %s: %d rows from %d annotators (%d annotators with fewer than 2 usable "
             "judgements left out)", table.source, len(g) // 2, g["annotator_id"].nunique(),
             int((counts < 2).sum()))
    fields = ["pair_id", "prompt_id", "prompt", "response_a", "response_b", "response_a_id", "response_b_id",
              "label", "source_row"]
    g = g.sort_values(["annotator_id", "_pairno", "_slot"], kind="stable")
    first, second = g[g["_slot"].to_numpy() == 0], g[g["_slot"].to_numpy() == 1]
    out = pd.DataFrame({"annotator_id": first["annotator_id"].to_numpy()})
    for attr in table.attributes:
        out[attr] = first[attr].to_numpy()
    for k, part in ((1, first), (2, second)):
        for col in fields:
            vals = _values(part) if col == "label" else part[col].to_numpy()
            out[f"{col}_{k}"] = vals
    return out


def _type_counts(f: pd.DataFrame, attr: str, types) -> str:
    per_pair = f.groupby("pair_id", sort=False)[attr].nunique()
    dist = per_pair.value_counts().sort_index()
    shown = ", ".join(f"{int(n)} type(s): {int(c)} pairs" for n, c in dist.items())
    return (f"{len(per_pair)} pairs by the number of the {len(types)} types {list(map(str, types))} that judged "
            f"them: {shown}")


def per_type_view(table: JudgementTable, type_attribute: str, multiple: str = "majority", missing: str = "drop",
                  tie: str = "keep", seed: int = 0) -> pd.DataFrame:
    """One row per pair with a label from every type (the values of ``type_attribute``): the input
    of the consistent loss (Eq. 20, docs/spec.md §4).

    Identification caveat: the consistent loss targets the average reward only when the per-type
    labels come from FIXED types (every pair labelled by each of the same k types). k labels from
    random anonymous raters, filtered for unanimity, bring back DPO's NBC target; so HelpSteer3's up
    to 3 anonymous ``individual_preference`` entries do not make it consistent, and this view
    refuses anonymous tables.

    Rules (each documented choice is an argument):

    - ``tie``: ``"keep"`` counts a tie judgement as 0 (the pair is then not unanimous, and the
      consistent loss drops it); ``"drop"`` removes tie judgements first (a type left with none
      is missing on that pair).
    - ``multiple``, for several judgements from one type on one pair: ``"majority"`` takes the
      sign of (#a − #b), 0 when they balance; ``"drop"`` keeps the type's label only when its
      judgements all agree, else the type is missing on that pair; ``"sample"`` takes one of them,
      drawn with ``seed``.
    - ``missing``, for a pair that some type did not label: ``"drop"`` drops the pair (logged);
      ``"keep"`` keeps it with a missing label (``<NA>``).

    Orientation: ``chosen`` is the response every type preferred when the labelled types are
    unanimous for one response; otherwise ``chosen`` is ``response_a``. Every ``label_<type>`` column
    is relative to (chosen, rejected): +1 chosen preferred, −1 rejected preferred, 0 tie or
    undecided. ``unanimous`` is True when every type's label is +1 (all labelled types, under
    ``missing="keep"``). The type values are in ``frame.attrs["types"]``.

    Refused (:class:`ViewRefused`, with counts) on anonymous tables (HelpSteer3), on PRISM (each
    prompt is written and judged by one participant, so no pair has labels from two types), when
    the attribute has one value only, and when no pair is judged by every type.
    """
    _choice("multiple", multiple, MULTIPLE_RULES)
    _choice("missing", missing, MISSING_RULES)
    _choice("tie", tie, ("keep", "drop"))
    _refuse_anonymous(table, "per-type")
    f = table.frame
    if type_attribute not in table.attributes:
        raise ViewRefused(f"{table.source}: type attribute {type_attribute!r} is not an annotator attribute of this "
                          f"table; expected one of {list(table.attributes)}")
    types = sorted(f[type_attribute].astype(str).unique())
    if table.dataset == "prism":
        judged = f.groupby("pair_id", sort=False)["annotator_id"].nunique()
        raise ViewRefused(
            f"{table.source}: the per-type view needs pairs labelled by several types, but in PRISM each prompt is "
            f"written and judged by one participant: {len(judged)} pairs, {int((judged >= 2).sum())} judged by 2 or "
            f"more annotators; {_type_counts(f, type_attribute, types)}.")
    if len(types) < 2:
        raise ViewRefused(
            f"{table.source}: type attribute {type_attribute!r} has one value only ({types[0]!r}, all "
            f"{f['annotator_id'].nunique()} annotators); the per-type view needs 2 or more types.")
    g = f.assign(_type=f[type_attribute].astype(str), _v=_values(f))
    if tie == "drop":
        g = g[g["_v"].to_numpy() != 0]
    if multiple == "sample":
        cells = _shuffled(g, seed).drop_duplicates(["pair_id", "_type"])[["pair_id", "_type", "_v"]]
    else:
        agg = g.groupby(["pair_id", "_type"], sort=False)["_v"].agg(["sum", "min", "max", "size"]).reset_index()
        if multiple == "majority":
            agg["_v"] = np.sign(agg["sum"].to_numpy())
        else:
            agree = (agg["min"] == agg["max"]).to_numpy()
            n_dis = int((~agree).sum())
            if n_dis:
                log.info("per-type view of %s: %d (pair, type) cells with disagreeing judgements dropped "
                         "(multiple='drop')", table.source, n_dis)
            agg = agg[agree].assign(_v=agg.loc[agree, "min"])
        cells = agg[["pair_id", "_type", "_v"]]
    wide = cells.pivot(index="pair_id", columns="_type", values="_v").reindex(columns=types)
    n_pairs = f["pair_id"].nunique()
    full = wide.notna().all(axis=1).to_numpy()
    if not full.any():
        raise ViewRefused(f"{table.source}: no pair has a label from every type of {type_attribute!r} "
                          f"(rules tie={tie!r}, multiple={multiple!r}); {_type_counts(f, type_attribute, types)}.")
    if missing == "drop":
        if (~full).any():
            log.info("per-type view of %s: %d of %d pairs dropped (some type did not label them, missing='drop')",
                     table.source, int((~full).sum()), n_pairs)
        wide = wide[full]
    vals = wide.to_numpy(dtype=float)
    labelled = ~np.isnan(vals)
    all_b = np.where(labelled, vals == -1, True).all(axis=1) & labelled.any(axis=1)
    flip = all_b
    vals = np.where(flip[:, None], -vals, vals)
    first = f.drop_duplicates("pair_id").set_index("pair_id").loc[wide.index]
    a, b = first["response_a"].to_numpy(), first["response_b"].to_numpy()
    a_id, b_id = first["response_a_id"].to_numpy(), first["response_b_id"].to_numpy()
    out = pd.DataFrame({
        "pair_id": wide.index.to_numpy(),
        "prompt_id": first["prompt_id"].to_numpy(),
        "prompt": first["prompt"].to_numpy(),
        "chosen": np.where(flip, b, a),
        "rejected": np.where(flip, a, b),
        "chosen_id": np.where(flip, b_id, a_id),
        "rejected_id": np.where(flip, a_id, b_id),
    })
    for j, t in enumerate(types):
        out[f"label_{t}"] = pd.array(np.where(labelled[:, j], vals[:, j], np.nan), dtype="Int8")
    out["unanimous"] = np.where(labelled, vals == 1, True).all(axis=1) & labelled.any(axis=1)
    out.attrs["types"] = types
    out.attrs["type_attribute"] = type_attribute
    log.info("per-type view of %s: %d pairs, %d unanimous, types %s", table.source, len(out),
             int(out["unanimous"].sum()), types)
    return out
