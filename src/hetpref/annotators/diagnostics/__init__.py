"""Diagnostics of a judgement table under a chosen type attribute (``hetpref inspect``).

- :mod:`.feasibility`: which information settings the data allow (docs/spec.md §4–6);
- :mod:`.agreement`: Krippendorff's alpha within and between types (the ``krippendorff`` package);
- :mod:`.rankings`: NBC against the average reward on prompts with >= 3 responses (§3, §6), through
  the survey analysis' Luce–Shepard, NBC and min-TV machinery.

:func:`inspect_table` runs all three and adds the identification caveat.
"""
from __future__ import annotations

from .agreement import agreement
from .coding import encode
from .feasibility import feasibility
from .rankings import nbc_vs_average

#: The identification caveat, printed in every report (docs/spec.md §6).
IDENTIFICATION_CAVEAT = (
    "The consistent loss targets the average reward only when the per-type labels come from fixed types "
    "(the same attribute value stands for the same preferences across pairs). k labels from random anonymous "
    "raters, filtered for unanimity, bring back DPO's target, the normalised Borda count (NBC): so HelpSteer3's "
    "up to 3 anonymous individual_preference entries do not make it consistent.")


def inspect_table(table, type_attribute: str, seed: int = 0, with_views: bool = True, pseudocount: float = 0.5) -> dict:
    """All diagnostics of ``table`` under ``type_attribute``: a dict with ``feasibility``,
    ``agreement``, ``nbc_vs_average`` (its ``prompts`` a DataFrame) and ``caveat``."""
    coded = encode(table, type_attribute)
    return {
        "dataset": table.dataset, "source": table.source, "type_attribute": type_attribute,
        "feasibility": feasibility(table, coded, type_attribute, seed=seed, with_views=with_views),
        "agreement": agreement(coded),
        "nbc_vs_average": nbc_vs_average(coded, pseudocount=pseudocount),
        "caveat": IDENTIFICATION_CAVEAT,
    }


__all__ = ["IDENTIFICATION_CAVEAT", "agreement", "encode", "feasibility", "inspect_table", "nbc_vs_average"]
