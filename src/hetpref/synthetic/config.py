"""Configurations of the synthetic experiment's training (§7.2), without torch: the policy
trainer's :class:`TrainConfig`, corrected DPO's :class:`CorrectionConfig` (§5, with Eq. 19's
joint model) and the joint model's reward families :data:`JOINT_REWARDS`. The workflow's config
checks build them while the DAG is built; :mod:`hetpref.synthetic.train` and
:mod:`hetpref.synthetic.variance` take them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

JOINT_REWARDS = ("offset", "tabular")  # latent rewards of Eq. 19's joint model (hetpref.synthetic.variance)


class ConfigValueError(ValueError):
    """A configuration field holds a value it cannot take; ``field`` names it (the workflow's
    config checks report it under its key)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class TrainConfig:
    steps: int = field(default=10_000, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=1024, metadata={"help": "preferences per step"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    policy: str = field(default="mlp", metadata={"help": "'mlp' (one-hot x → hidden → logits) or 'tabular'"})
    hidden: tuple = field(default=(15, 15), metadata={"help": "MLP hidden widths"})
    beta: float = field(default=1.0, metadata={"help": "KL strength β in h"})
    log_every: int = field(default=100, metadata={"help": "steps per loss-trajectory point"})

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigValueError(name, f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigValueError("lr", f"lr must be > 0, got {self.lr}")
        if self.policy not in ("mlp", "tabular"):
            raise ConfigValueError("policy", f"policy must be 'mlp' or 'tabular', got {self.policy!r}")
        if any(w < 1 for w in self.hidden):
            raise ConfigValueError("hidden", f"hidden widths must be ≥ 1, got {self.hidden}")


@dataclass
class CorrectionConfig:
    """Corrected DPO (§5) and its Eq. 19 variance model. The defaults are the estimator this
    project chose (README, "First-order corrected DPO"); the reference code's model is
    ``joint_rewards="tabular", joint_lr=1e-2, joint_steps=10_000, joint_batch_size=1024,
    joint_holdout=0, joint_early_stopping=False``."""

    alpha: float = field(default=1.0, metadata={"help": "correction strength α (0 = DPO, 1 = theory)"})
    latent_types: int = field(default=3, metadata={"help": "K, latent types of the joint model"})
    joint_rewards: str = field(default="offset", metadata={
        "help": "latent rewards ρ_k: 'offset' (a function of d = (y − x) mod N, the environment's "
                "translation structure) or 'tabular' (one value per (x, y), the reference code's)"})
    joint_lr: float = field(default=3e-2, metadata={"help": "Adam lr of the joint model"})
    joint_steps: int = field(default=2_000, metadata={"help": "joint-model optimizer steps"})
    joint_batch_size: int = field(default=4096, metadata={"help": "same-annotator pairs per joint-model step"})
    joint_holdout: float = field(default=0.1, metadata={
        "help": "share of same-annotator pairs held out (held-out loss, early stopping); 0 = none"})
    joint_early_stopping: bool = field(default=True, metadata={
        "help": "keep the joint model of the evaluation with the lowest held-out loss"})
    joint_eval_every: int = field(default=250, metadata={"help": "joint-model steps per held-out evaluation"})
    warmup_steps: int = field(default=8_000, metadata={"help": "plain DPO steps before the correction starts"})
    correction_clamp: float | None = field(default=0.1, metadata={"help": "bound on |correction| (None: none)"})
    eps: float = field(default=1e-6, metadata={"help": "stable-log floor ε"})

    def __post_init__(self):
        if self.alpha < 0:
            raise ConfigValueError("alpha", f"alpha must be ≥ 0, got {self.alpha}")
        for name in ("latent_types", "joint_steps", "joint_batch_size", "joint_eval_every"):
            if getattr(self, name) < 1:
                raise ConfigValueError(name, f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise ConfigValueError("warmup_steps", f"warmup_steps must be ≥ 0, got {self.warmup_steps}")
        if self.correction_clamp is not None and self.correction_clamp <= 0:
            raise ConfigValueError("correction_clamp", f"correction_clamp must be > 0 or None, got "
                                                       f"{self.correction_clamp}")
        if self.joint_rewards not in JOINT_REWARDS:
            raise ConfigValueError("joint_rewards", f"joint_rewards must be one of {', '.join(JOINT_REWARDS)}, "
                                                    f"got {self.joint_rewards!r}")
        if not 0 <= self.joint_holdout < 1:
            raise ConfigValueError("joint_holdout", f"joint_holdout must be in [0, 1), got {self.joint_holdout}")
        if self.joint_early_stopping and self.joint_holdout == 0:
            raise ConfigValueError("joint_early_stopping", "joint_early_stopping needs held-out pairs: set "
                                                           "joint_holdout > 0, or joint_early_stopping to false")


def correction_config(section: dict, **overrides) -> CorrectionConfig:
    """CorrectionConfig from the workflow's ``corrected_dpo`` section; its list-valued keys
    ``alphas`` and ``variance`` choose which runs exist, not how one runs."""
    return CorrectionConfig(**{**{k: v for k, v in section.items() if k not in ("alphas", "variance")}, **overrides})


def config_dict(*cfgs) -> dict:
    """The fields of several configurations as one flat dict (for provenance records)."""
    out = {}
    for c in cfgs:
        out.update(asdict(c))
    return out
