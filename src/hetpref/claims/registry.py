"""The registry of the paper's claims: their order in the report, and which ones take the report's
seed (those with random instances or Monte-Carlo simulations). Running every claim is one loop
over it; nothing is inferred from function signatures."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .aggregation import (
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
    claim_09_not_learnable_without_annotator_info,
    claim_10_variance_not_identifiable,
    claim_11_paired_estimator_recovers_variance,
    claim_12_consistent_losses,
    claim_13_until_agreement_is_bt_on_sum,
    claim_14_must_discard_disagreements,
)


@dataclass(frozen=True)
class Claim:
    """One entry of the report: the claim's number, the function that checks it (returns a claim
    record) and whether that function takes the report's ``seed``."""

    id: int
    check: Callable[..., dict]
    seeded: bool

    def run(self, seed: int) -> dict:
        return self.check(seed=seed) if self.seeded else self.check()


CLAIMS = (
    Claim(1, claim_01_mixture_not_bt, seeded=False),
    Claim(2, claim_02_only_affine_is_order_consistent, seeded=False),
    Claim(3, claim_03_dpo_limit_follows_nbc, seeded=True),      # random populations
    Claim(4, claim_04_nbc_depends_on_mu, seeded=False),
    Claim(5, claim_05_nbc_depends_on_temperature, seeded=False),
    Claim(6, claim_06_mediocrity_promotion, seeded=True),       # random μ for the robustness share
    Claim(7, claim_07_iia_violation, seeded=False),
    Claim(8, claim_08_tyranny_of_majority, seeded=False),
    Claim(9, claim_09_not_learnable_without_annotator_info, seeded=False),
    Claim(10, claim_10_variance_not_identifiable, seeded=False),
    Claim(11, claim_11_paired_estimator_recovers_variance, seeded=True),  # simulated annotators
    Claim(12, claim_12_consistent_losses, seeded=True),         # random per-type deltas
    Claim(13, claim_13_until_agreement_is_bt_on_sum, seeded=True),  # simulated rounds
    Claim(14, claim_14_must_discard_disagreements, seeded=True),  # random per-type deltas
)


def run_all_claims(seed: int = 0, claims=CLAIMS) -> list[dict]:
    """Every claim of ``claims`` in order; the seed drives the random instances and simulations."""
    return [claim.run(seed) for claim in claims]
