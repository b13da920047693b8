"""Preference losses as pure functions of ``h`` (docs/spec.md §4).

Every loss takes the *winner-first* induced reward difference ``h = h_π(x, y_w, y_l)``
(for a reward model, ``R(y_w) − R(y_l)``) and returns per-example losses (no reduction),
so the tabular trainers of the synthetic stage and the LM trainers share one definition.
For the consistent losses the caller keeps only unanimous pairs (see :func:`unanimous_mask`)
and orients ``h`` towards the option every type preferred.

Use :func:`preference_loss` (one dispatch over :data:`LOSS_NAMES`) from trainers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_MAX_LOG_INV_SIGMOID = 80.0  # e^80 ≈ 5.5e34: finite in float32 and bfloat16, times any V ≤ 1/4 and α ≤ 1000

LOSS_NAMES = ("dpo", "ipo", "bt_reward", "corrected_dpo", "consistent", "consistent_ik",
              "consistent_reference_variant")


def dpo_loss(h: torch.Tensor) -> torch.Tensor:
    """DPO (Eq. 6): −log σ(h)."""
    return -F.logsigmoid(h)


def bt_reward_loss(h: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry reward-model loss: −log σ(R(y_w) − R(y_l)); same form as DPO."""
    return dpo_loss(h)


def ipo_loss(h: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """IPO (Azar et al.): (h − 1/(2τ))²."""
    if tau <= 0:
        raise ValueError(f"IPO tau must be > 0, got {tau}")
    return (h - 1.0 / (2.0 * tau)) ** 2


def first_order_correction(h: torch.Tensor, variance: torch.Tensor,
                           variance_kind: str = "sigmoid") -> torch.Tensor:
    """The second-order term ½ σ''(h) Var_u(Δ_u) of E_u σ(Δ_u) ≈ σ(Δ̄) + ½ σ''(Δ̄) Var_u(Δ_u) (§5).

    ``variance_kind="delta"``: ``variance`` estimates Var_u(Δ_u) and the term is
    ½ σ(1−σ)(1−2σ) · V.  ``variance_kind="sigmoid"``: ``variance`` estimates Var_u[σ(Δ_u)]
    (what Eq. 19's paired-preference estimator yields); by the delta method
    Var_u(Δ_u) ≈ Var_u[σ(Δ_u)] / (σ(1−σ))², so the term is ½ (1−2σ) Var_u[σ(Δ_u)] / (σ(1−σ)).
    """
    s = torch.sigmoid(h)
    if variance_kind == "delta":
        return 0.5 * s * (1 - s) * (1 - 2 * s) * variance
    if variance_kind == "sigmoid":
        # 1/(σ(1−σ)) = exp(−logσ(h) − logσ(−h)) without underflow to 0 at large |h|; the exponent is
        # capped where float32 stays finite (|h| ≳ 80: an LM's summed log-probabilities reach it), so a
        # V of 0 gives no correction rather than 0·∞ = NaN, and the clamped likelihood a zero gradient
        inv = torch.exp(torch.clamp(-(F.logsigmoid(h) + F.logsigmoid(-h)), max=_MAX_LOG_INV_SIGMOID))
        return 0.5 * (1 - 2 * s) * variance * inv
    raise ValueError(f"variance_kind must be 'delta' or 'sigmoid', got {variance_kind!r}")


def corrected_dpo_loss(h: torch.Tensor, variance: torch.Tensor, alpha: float = 1.0,
                       variance_kind: str = "sigmoid", correction_clamp: float | None = None,
                       eps: float = 1e-6) -> torch.Tensor:
    """First-order corrected DPO (§5): −log clamp(σ(h) + α · correction, ε, 1−ε).

    ``alpha = 0`` is DPO (up to the ε floor), ``alpha = 1`` is the theory. ``correction_clamp``
    bounds the correction term to [−c, c] (the reference code uses c = 0.1; None = no clamp).
    The clamp of the likelihood into [ε, 1−ε] is the paper's "stable log".
    """
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    corr = first_order_correction(h, variance, variance_kind)
    if correction_clamp is not None:
        corr = corr.clamp(-correction_clamp, correction_clamp)
    likelihood = torch.sigmoid(h) + alpha * corr
    return -torch.log(likelihood.clamp(eps, 1 - eps))


def consistent_loss(h: torch.Tensor, n_types: int) -> torch.Tensor:
    """Temperature-adjusted DPO on unanimous pairs (Eq. 20): −log σ(k·h).

    Under BT, P(all k types prefer y1 | unanimous) = σ(Σ_u Δ_u), so the population minimiser
    is h = mean_u Δ_u, i.e. the policy π* of the average reward.
    """
    _check_k(n_types, upper=None)
    return -F.logsigmoid(n_types * h)


def consistent_reference_variant_loss(h: torch.Tensor, n_types: int) -> torch.Tensor:
    """The public reference code's variant, written for a winner-first h of a pair whose
    unanimous label was "all prefer y2" as −log σ(k·(1 − h_{y1,y2})). NOT consistent; kept only so
    that its bias can be measured (claims report). Input: h = h(y1, y2) of an all-zero pair.
    """
    _check_k(n_types, upper=None)
    return -F.logsigmoid(n_types * (1 - h))


def _i_k(x: torch.Tensor, log_x: torch.Tensor, inv_x: torch.Tensor, k: int) -> torch.Tensor:
    """I_k of Appendix C, given x, log x and 1/x (passed in for numerical stability)."""
    if k == 1:
        return -x + log_x
    if k == 2:
        return x - 2 * log_x - inv_x
    if k == 3:
        return -x + 3 * log_x + 3 * inv_x - 0.5 * inv_x ** 2
    return x - 4 * log_x - 6 * inv_x + 2 * inv_x ** 2 - inv_x ** 3 / 3


def consistent_ik_loss(h: torch.Tensor, n_types: int) -> torch.Tensor:
    """Appendix C family on unanimous pairs: −(s + I_k(s)) with s = σ(h); k = 1 is DPO.

    Consistent because s^k (1 + I_k'(s)) is symmetric under s ↦ 1 − s, which puts the
    population minimiser at k·logit(s) = Σ_u Δ_u.
    """
    _check_k(n_types, upper=4)
    s = torch.sigmoid(h)
    log_s = F.logsigmoid(h)
    inv_s = 1 + torch.exp(-h)
    return -(s + _i_k(s, log_s, inv_s, n_types))


def _check_k(k: int, upper: int | None) -> None:
    if int(k) != k or k < 1 or (upper is not None and k > upper):
        allowed = "an integer ≥ 1" if upper is None else f"an integer in 1..{upper}"
        raise ValueError(f"number of types k must be {allowed}, got {k!r}")


def preference_loss(name: str, h: torch.Tensor, **params) -> torch.Tensor:
    """The one dispatch over every preference loss; returns per-example losses.

    ``params`` are the named loss's keyword arguments (``tau`` for IPO; ``variance``,
    ``alpha``, ``variance_kind``, ``correction_clamp``, ``eps`` for corrected DPO; ``n_types``
    for the consistent losses).
    """
    if name == "dpo":
        return dpo_loss(h, **params)
    elif name == "bt_reward":
        return bt_reward_loss(h, **params)
    elif name == "ipo":
        return ipo_loss(h, **params)
    elif name == "corrected_dpo":
        return corrected_dpo_loss(h, **params)
    elif name == "consistent":
        return consistent_loss(h, **params)
    elif name == "consistent_ik":
        return consistent_ik_loss(h, **params)
    elif name == "consistent_reference_variant":
        return consistent_reference_variant_loss(h, **params)
    raise ValueError(f"unknown loss {name!r}; allowed: {', '.join(LOSS_NAMES)}")


def unanimous_mask(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For per-type labels ``labels[n, k]`` (1 = y1 preferred), return ``(keep, sign)``:
    ``keep`` marks unanimous pairs and ``sign`` is +1 where all prefer y1, −1 where all prefer y2
    (so ``sign * h(y1, y2)`` is the winner-first h)."""
    all_one = labels.all(dim=-1)
    all_zero = (labels == 0).all(dim=-1)
    keep = all_one | all_zero
    sign = torch.where(all_one, 1.0, -1.0).to(torch.get_default_dtype())
    return keep, sign
