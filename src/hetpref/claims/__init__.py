"""The paper's theoretical claims, each checked on a concrete instance with exact numbers.

One function per claim (``claim_01_…`` … ``claim_14_…``). Each returns a claim record

    {"id": int, "title": str, "statement": str,
     "instance": {every number that defines the instance},
     "evidence": {the computed numbers}, "passed": bool}

so that a reader can redo every number by hand from the report alone. Hand-built instances
(claims 1, 2, 4, 5, 7–10) do not depend on the seed; the random instances and the Monte-Carlo
simulations (claims 3, 6, 11–14) are deterministic for a given seed. Responses are called
y1, y2, … (index 0, 1, … in arrays).

- :mod:`hetpref.claims.record`          the claim record and the helpers every claim shares
- :mod:`hetpref.claims.aggregation`     claims 1–8: what a population aggregates to (§3, §4, App. A, C)
- :mod:`hetpref.claims.identification`  claims 9–14: what annotator information buys (§5, §6, App. C)
- :mod:`hetpref.claims.registry`        the claims in report order, which take a seed, running them all
- :mod:`hetpref.claims.render`          the markdown report and the figure
"""
from .aggregation import (
    CLAIM4_REWARDS,
    CLAIM5_REWARDS,
    CLAIM6_LABELS,
    CLAIM6_REWARDS,
    CLAIM7_REWARDS,
    claim_01_mixture_not_bt,
    claim_02_only_affine_is_order_consistent,
    claim_03_dpo_limit_follows_nbc,
    claim_04_nbc_depends_on_mu,
    claim_05_nbc_depends_on_temperature,
    claim_06_mediocrity_promotion,
    claim_07_iia_violation,
    claim_08_tyranny_of_majority,
)
from .identification import (
    CLAIM11_REWARDS,
    claim_09_not_learnable_without_annotator_info,
    claim_10_variance_not_identifiable,
    claim_11_paired_estimator_recovers_variance,
    claim_12_consistent_losses,
    claim_13_until_agreement_is_bt_on_sum,
    claim_14_must_discard_disagreements,
    matched_populations,
)
from .registry import CLAIMS, Claim, run_all_claims
from .render import claims_figure, claims_markdown

__all__ = [
    "CLAIMS", "Claim", "run_all_claims", "claims_markdown", "claims_figure", "matched_populations",
    "CLAIM4_REWARDS", "CLAIM5_REWARDS", "CLAIM6_LABELS", "CLAIM6_REWARDS", "CLAIM7_REWARDS", "CLAIM11_REWARDS",
    "claim_01_mixture_not_bt", "claim_02_only_affine_is_order_consistent", "claim_03_dpo_limit_follows_nbc",
    "claim_04_nbc_depends_on_mu", "claim_05_nbc_depends_on_temperature", "claim_06_mediocrity_promotion",
    "claim_07_iia_violation", "claim_08_tyranny_of_majority", "claim_09_not_learnable_without_annotator_info",
    "claim_10_variance_not_identifiable", "claim_11_paired_estimator_recovers_variance",
    "claim_12_consistent_losses", "claim_13_until_agreement_is_bt_on_sum", "claim_14_must_discard_disagreements",
]
