"""Method ids of the synthetic experiment, without torch (the workflow builds its DAG from them).

``dpo``, ``ipo``, ``consistent``, ``nbc_counts``, ``cdpo_alpha<α>`` (first-order corrected DPO at
strength α, variance estimated by Eq. 19's joint model) and ``cdpo_alpha<α>_oracle`` (the same
loss and training with the true Var_u[σ(Δ_u)]).
"""
from __future__ import annotations

import re
from typing import NamedTuple

# The method names of config.yaml, the schema's enums (tested against these) and the rules.
DPO, IPO, CONSISTENT, NBC_COUNTS, CORRECTED_DPO = "dpo", "ipo", "consistent", "nbc_counts", "corrected_dpo"
BASE_METHODS = (DPO, IPO, CONSISTENT, NBC_COUNTS, CORRECTED_DPO)
#: Methods the sample-size and heterogeneity sweeps compare: the trained ones (NBC is counted).
TRAINED_METHODS = (DPO, IPO, CORRECTED_DPO, CONSISTENT)
#: Variance sources of corrected DPO: Eq. 19's estimate, or the true Var_u[σ(Δ_u)].
ESTIMATED, ORACLE = VARIANCE_SOURCES = ("estimated", "oracle")
_CDPO = re.compile(r"^cdpo_alpha(\d+(?:\.\d+)?)(_oracle)?$")


class MethodSpec(NamedTuple):
    method: str
    alpha: float | None = None
    variance: str | None = None  # corrected DPO only: "estimated" (Eq. 19) or "oracle"


def method_id(method: str, alpha: float | None = None, variance: str = "estimated") -> str:
    """``corrected_dpo`` + α (+ variance source) → ``cdpo_alpha<α>[_oracle]``; others are their own id."""
    if method == "corrected_dpo":
        if variance not in VARIANCE_SOURCES:
            raise ValueError(f"variance must be one of {', '.join(VARIANCE_SOURCES)}, got {variance!r}")
        return f"cdpo_alpha{float(alpha):g}" + ("_oracle" if variance == "oracle" else "")
    return method


def parse_method(mid: str) -> MethodSpec:
    m = _CDPO.match(mid)
    if m:
        return MethodSpec("corrected_dpo", float(m.group(1)), "oracle" if m.group(2) else "estimated")
    if mid in BASE_METHODS and mid != "corrected_dpo":
        return MethodSpec(mid)
    raise ValueError(f"unknown synthetic method {mid!r}; allowed: dpo, ipo, consistent, nbc_counts, "
                     "cdpo_alpha<α>, cdpo_alpha<α>_oracle")


def expand_methods(methods, alphas, variances=("estimated",)) -> list[str]:
    """Config method names → method ids: ``corrected_dpo`` becomes one id per α and variance source."""
    out = []
    for m in methods:
        out += ([method_id(m, a, v) for a in alphas for v in variances] if m == "corrected_dpo" else [m])
    return out


def oracle_key(mid: str) -> str:
    """Name of a method's own population limit in the oracle file (both variance sources of
    corrected DPO share the limit of the loss with the true variance)."""
    spec = parse_method(mid)
    if spec.method == "corrected_dpo":
        return f"limit_{method_id('corrected_dpo', spec.alpha)}"
    return {"dpo": "dpo_limit", "ipo": "dpo_limit", "consistent": "consistent_limit",
            "nbc_counts": "nbc"}[spec.method]
