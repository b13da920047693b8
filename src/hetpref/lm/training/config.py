"""Training configuration of the LM stage: :class:`LMTrainConfig` (the paper's hyper-parameters,
validated) and the loss a kind of model trains with on each dataset (:func:`loss_for`, docs/spec.md §8),
and which fields a checkpoint may differ in and still be resumed (:data:`RESUME_NEUTRAL_FIELDS`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..models import ATTN_IMPLEMENTATIONS
from ..names import DPO_SCORINGS, KINDS, PLAIN_DATASETS, TRAIN_DATASETS

# LMTrainConfig fields that change the numbers only by floating-point noise (or not at all): a
# checkpoint written with other values is still resumed (e.g. switch on activation
# checkpointing after an out-of-memory kill, or move to more GPUs)
RESUME_NEUTRAL_FIELDS = ("checkpoint_every", "log_every", "gradient_accumulation_steps", "gradient_checkpointing",
                         "attn_implementation")


@dataclass
class LMTrainConfig:
    """Training hyper-parameters; defaults are the paper's (docs/spec.md §8)."""
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale alpha/r)"})
    lora_dropout: float = field(default=0.1, metadata={"help": "dropout on the LoRA input"})
    lr: float = field(default=3e-5, metadata={"help": "AdamW peak learning rate, decays linearly to 0"})
    weight_decay: float = field(default=0.001, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(default=2, metadata={
        "help": "preference pairs per optimizer step (the global batch: per device × accumulation × processes)"})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "help": "micro-batches accumulated per optimizer step; the per-device batch is "
                "batch_size / (gradient_accumulation_steps × processes)"})
    epochs: int = field(default=1, metadata={"help": "passes over the training pairs"})
    max_length: int = field(default=512, metadata={
        "help": "max text tokens of prompt + longer response (bos/eos not counted, as the data filter)"})
    overlength: str = field(default="error", metadata={
        "help": "a longer pair: 'error' (stop, naming it) or 'drop' (skip it, listed in the metrics)"})
    checkpoint_every: int = field(default=50, metadata={"help": "steps between checkpoints; 0 = none"})
    log_every: int = field(default=10, metadata={"help": "steps per point of the loss curve"})
    dtype: str = field(default="auto", metadata={"help": "auto = bf16 on CUDA, float32 on CPU"})
    n_types: int = field(default=3, metadata={"help": "k of the consistent loss (three length types)"})
    loss: str | None = field(default=None, metadata={
        "help": "override the dataset's loss: 'ipo' for the IPO baseline; None = loss_for()"})
    ipo_tau: float = field(default=0.1, metadata={"help": "IPO's τ (loss 'ipo' only)"})
    correction_alpha: float = field(default=1.0, metadata={
        "help": "α of corrected DPO (loss 'corrected_dpo' only; docs/spec.md §4): 1 = the theory, 0 = DPO; "
                "each record carries its V̂ = Var_u[σ(Δ_u)] in a 'variance' field"})
    correction_clamp: float | None = field(default=0.1, metadata={
        "help": "bound on |correction| of corrected DPO (the reference code's 0.1, as the synthetic stage); None = "
                "none. Summed log-probabilities give |h| of tens of nats, where the unclamped correction "
                "saturates the likelihood's [ε, 1−ε] clamp and the pair's gradient vanishes"})
    max_grad_norm: float | None = field(default=None, metadata={
        "help": "gradient-norm clip; the paper states none (None); HF Trainer's default is 1.0"})
    add_eos: bool = field(default=True, metadata={
        "help": "end each response with eos, scored: where a response stops is what the length types judge"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "activation checkpointing (non-reentrant): recompute each layer in backward, trading compute "
                "for memory (8B models)"})
    attn_implementation: str = field(default="sdpa", metadata={
        "help": "attention kernel: 'sdpa' (PyTorch's fused attention), 'sdpa_unpadded' (the same per sequence on "
                "its real tokens: equal up to rounding, no work on padding; hetpref.lm.attention) or 'eager'"})
    target_modules: list | None = field(default=None, metadata={"help": "LoRA targets; None = peft's default"})
    dpo_scoring: str = field(default="response_sum", metadata={
        "help": "a policy's sequence score (hetpref.lm.names.DPO_SCORINGS): response_sum = log π(y|x) (the "
                "paper's uniform reference), reference_code, base_reference, response_mean"})

    def __post_init__(self):
        for name in ("lora_r", "lora_alpha", "batch_size", "gradient_accumulation_steps", "epochs", "max_length",
                     "log_every", "n_types"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"LMTrainConfig.{name} must be an integer ≥ 1, got {v!r}")
        if int(self.checkpoint_every) != self.checkpoint_every or self.checkpoint_every < 0:
            raise ValueError(f"LMTrainConfig.checkpoint_every must be an integer ≥ 0, got {self.checkpoint_every!r}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"LMTrainConfig.lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"LMTrainConfig.lr must be > 0, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"LMTrainConfig.weight_decay must be ≥ 0, got {self.weight_decay!r}")
        if self.overlength not in ("error", "drop"):
            raise ValueError(f"LMTrainConfig.overlength must be 'error' or 'drop', got {self.overlength!r}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16", "fp32", "bf16", "fp16"):
            raise ValueError(f"LMTrainConfig.dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        if self.loss not in (None, "ipo", "dpo", "bt_reward", "consistent", "corrected_dpo"):
            raise ValueError(f"LMTrainConfig.loss must be null, 'ipo', 'dpo', 'bt_reward', 'consistent' or "
                             f"'corrected_dpo', got {self.loss!r}")
        if not (self.correction_alpha >= 0 and math.isfinite(self.correction_alpha)):
            raise ValueError(f"LMTrainConfig.correction_alpha must be ≥ 0, got {self.correction_alpha!r}")
        if self.correction_clamp is not None and not self.correction_clamp > 0:
            raise ValueError(f"LMTrainConfig.correction_clamp must be > 0 or null, got {self.correction_clamp!r}")
        if not self.ipo_tau > 0:
            raise ValueError(f"LMTrainConfig.ipo_tau must be > 0, got {self.ipo_tau!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"LMTrainConfig.max_grad_norm must be > 0 or null, got {self.max_grad_norm!r}")
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(f"LMTrainConfig.batch_size = {self.batch_size} (pairs per optimizer step) must be "
                             f"divisible by gradient_accumulation_steps = {self.gradient_accumulation_steps}")
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"LMTrainConfig.attn_implementation must be one of {ATTN_IMPLEMENTATIONS}, "
                             f"got {self.attn_implementation!r}")
        if self.target_modules is not None:
            self.target_modules = list(self.target_modules)
        if self.dpo_scoring not in DPO_SCORINGS:
            raise ValueError(f"LMTrainConfig.dpo_scoring must be one of {', '.join(DPO_SCORINGS)}, "
                             f"got {self.dpo_scoring!r}")


def loss_for(kind: str, dataset: str, cfg: LMTrainConfig | None = None) -> tuple[str, dict]:
    """(loss name, loss params) for :func:`hetpref.losses.preference_loss` of a ``kind`` of model
    (``causal_lm``: DPO-family losses, ``reward``: BT; docs/spec.md §8):
    plain DPO / BT on ``anonymous``, the consistent (temperature-adjusted, k = n_types) loss on
    ``unanimous`` and ``unanimous_filtered``; plain DPO / BT on ``average`` (labels drawn from r̄,
    already a BT in the target); ``cfg.loss = 'ipo'`` selects the IPO baseline, ``'corrected_dpo'``
    first-order corrected DPO (§5) with α = ``cfg.correction_alpha`` and the correction bounded by
    ``cfg.correction_clamp``."""
    cfg = cfg or LMTrainConfig()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if dataset not in TRAIN_DATASETS:
        raise ValueError(f"dataset {dataset!r} is not a training set; allowed: {', '.join(TRAIN_DATASETS)}")
    if cfg.loss == "ipo":
        return "ipo", {"tau": cfg.ipo_tau}
    if cfg.loss is not None:
        name = cfg.loss
    elif dataset in PLAIN_DATASETS:
        name = "dpo" if kind == "causal_lm" else "bt_reward"
    else:
        name = "consistent"
    if name == "corrected_dpo":  # the per-pair variance comes with each batch (PairCollator)
        return name, {"alpha": cfg.correction_alpha, "correction_clamp": cfg.correction_clamp}
    return name, ({"n_types": cfg.n_types} if name == "consistent" else {})
