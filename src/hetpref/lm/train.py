"""LoRA training of policies (direct alignment) and reward models on HH-RLHF relabelled by
length-based types (MATH.md §8), with the losses of :mod:`hetpref.losses` (MATH.md §4).

- Direct alignment with a uniform reference: ``h = log π(y_c|x) − log π(y_r|x)``, where
  ``log π(y|x) = Σ_{t ∈ response} log p(y_t | x, y_<t)`` (MATH.md §4 "DPO" with the π_ref
  terms cancelled, §8 "sequence log-probability"). Only response tokens are scored, with the
  causal shift (logits at position t predict token t+1); the public reference code scores the
  unshifted logits and the prompt, which is not the default here. Optional arms (issue 19,
  ``LMTrainConfig.dpo_scoring``, :mod:`hetpref.lm.variants`) change only the sequence score:
  the reference code's score (``reference_code``), standard DPO against the frozen base
  (``base_reference``) and the mean log-probability per response token (``response_mean``).
- Reward models: ``h = R(x, y_c) − R(x, y_r)``, R the scalar head at the last non-pad token.
- Loss per dataset (:func:`loss_for`): ``anonymous`` (and ``average``) → ``dpo`` (policy) /
  ``bt_reward`` (reward model); ``unanimous`` / ``unanimous_filtered`` → ``consistent`` with
  ``n_types = 3`` (Eq. 20, −log σ(k·h), "temperature-adjusted"); ``ipo`` (τ) as an optional baseline.

Sequences are ``[bos] + prompt + response + [eos]`` with prompt and response tokenised apart
(so the response boundary is exact), right-padded; chosen and rejected responses of a batch run
in one forward pass.

Training runs on ``transformers.Trainer`` (:class:`PreferenceTrainer`): the model it sees is a
:class:`PairScorer` whose forward returns the per-sequence scores (all of the model's work inside
one ``forward``, so DDP and mixed precision wrap it), and ``compute_loss`` turns them into
``h`` and calls :func:`hetpref.losses.preference_loss`, the one definition the synthetic
trainers use too. The Trainer brings gradient accumulation, activation checkpointing, bf16
autocast on CUDA, multi-process data parallel (DDP, launched by :mod:`hetpref.lm.launch`),
checkpoints of the trainable weights with optimizer, scheduler and RNG states, and the per-step
log. The pair order is a function of (seed, epoch) only (:class:`EpochPermutationSampler`), the
same for every process count. Training is deterministic for a seed on CPU (same thread count),
and resumes bit-identically from ``out_dir/checkpoint/`` after a kill.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback

from ..losses import preference_loss
from ..provenance import config_hash, package_versions, provenance, write_json
from .hub import weights_snapshot
from .models import ATTN_IMPLEMENTATIONS, add_lora, describe_base, load_base_model, resolve_dtype, save_adapter
from .names import PLAIN_DATASETS, TRAIN_DATASETS
from .variants import DPO_SCORINGS

log = logging.getLogger("hetpref.lm.train")

OBJECTIVES = ("dpo", "reward")
LM_PACKAGES = ("transformers", "accelerate", "peft", "tokenizers", "tqdm", "gguf")  # versions in provenance.json
CHECKPOINT_FORMAT = 2  # 2: transformers.Trainer checkpoint-<step>/ folders with a completion marker
# LMTrainConfig fields that change the numbers only by floating-point noise (or not at all): a
# checkpoint written with other values is still resumed (e.g. switch on activation
# checkpointing after an out-of-memory kill, or move to more GPUs)
RESUME_NEUTRAL_FIELDS = ("checkpoint_every", "log_every", "gradient_accumulation_steps", "gradient_checkpointing",
                         "attn_implementation")


@dataclass
class LMTrainConfig:
    """Training hyper-parameters; defaults are the paper's (MATH.md §8)."""
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
    max_grad_norm: float | None = field(default=None, metadata={
        "help": "gradient-norm clip; the paper states none (None); HF Trainer's default is 1.0"})
    add_eos: bool = field(default=True, metadata={
        "help": "end each response with eos, scored: where a response stops is what the length types judge"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "activation checkpointing (non-reentrant): recompute each layer in backward, trading compute "
                "for memory (8B models)"})
    attn_implementation: str = field(default="sdpa", metadata={
        "help": "attention kernel: 'sdpa' (PyTorch's fused attention) or 'eager'"})
    target_modules: list | None = field(default=None, metadata={"help": "LoRA targets; None = peft's default"})
    dpo_scoring: str = field(default="response_sum", metadata={
        "help": "a policy's sequence score (hetpref.lm.variants.DPO_SCORINGS): response_sum = log π(y|x) (the "
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
        if self.loss not in (None, "ipo", "dpo", "bt_reward", "consistent"):
            raise ValueError(f"LMTrainConfig.loss must be null, 'ipo', 'dpo', 'bt_reward' or 'consistent', "
                             f"got {self.loss!r}")
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


def loss_for(objective: str, dataset: str, cfg: LMTrainConfig | None = None) -> tuple[str, dict]:
    """(loss name, loss params) for :func:`hetpref.losses.preference_loss` (MATH.md §8):
    plain DPO / BT on ``anonymous``, the consistent (temperature-adjusted, k = n_types) loss on
    ``unanimous`` and ``unanimous_filtered``; plain DPO / BT on ``average`` (labels drawn from r̄,
    already a BT in the target); ``cfg.loss = 'ipo'`` selects the IPO baseline."""
    cfg = cfg or LMTrainConfig()
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if dataset not in TRAIN_DATASETS:
        raise ValueError(f"dataset {dataset!r} is not a training set; allowed: {', '.join(TRAIN_DATASETS)}")
    if cfg.loss == "ipo":
        return "ipo", {"tau": cfg.ipo_tau}
    if cfg.loss is not None:
        name = cfg.loss
    elif dataset in PLAIN_DATASETS:
        name = "dpo" if objective == "dpo" else "bt_reward"
    else:
        name = "consistent"
    return name, ({"n_types": cfg.n_types} if name == "consistent" else {})


# ----------------------------------------------------------------------------- data


@dataclass
class EncodedPairs:
    """Token ids of preference pairs: ``prompt[i]`` (bos included), ``chosen[i]`` and
    ``rejected[i]`` (responses, eos included when configured)."""
    ids: list[str]
    prompt: list[list[int]]
    chosen: list[list[int]]
    rejected: list[list[int]]
    dropped: list[dict] = field(default_factory=list)

    def __len__(self):
        return len(self.ids)


def encode_records(records: Sequence[dict], tokenizer, max_length: int, overlength: str = "error",
                   add_eos: bool = True) -> EncodedPairs:
    """Tokenise records ``{"id", "prompt", "chosen", "rejected", ...}``.

    Over-long pairs (prompt + longer response over ``max_length`` text tokens; the bos/eos the
    trainer adds are not counted, matching the data filter) are
    never truncated — truncation would change log π(y|x) — but, by explicit choice, either stop
    the run with an error naming each such example and its length (``"error"``) or are dropped
    and listed (``"drop"``).
    """
    if overlength not in ("error", "drop"):
        raise ValueError(f"overlength must be 'error' or 'drop', got {overlength!r}")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []

    def tok(texts):
        return tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    prompts = tok(r["prompt"] for r in records)
    chosen = tok(r["chosen"] for r in records)
    rejected = tok(r["rejected"] for r in records)
    out = EncodedPairs([], [], [], [])
    for r, p, c, j in zip(records, prompts, chosen, rejected):
        # the cap counts text tokens (prompt + longer response, bos/eos excluded), as the data
        # module's 512-token filter does (MATH.md §8), so filtered data never trips it
        n = len(p) + max(len(c), len(j))
        if n > max_length:
            out.dropped.append({"id": str(r["id"]), "tokens": n, "prompt_tokens": len(p)})
            continue
        p, c, j = bos + p, c + eos, j + eos
        if not c or not j:
            raise ValueError(f"example {r['id']!r}: empty response after tokenisation (chosen {len(c)}, "
                             f"rejected {len(j)} tokens); nothing to score")
        out.ids.append(str(r["id"]))
        out.prompt.append(p)
        out.chosen.append(c)
        out.rejected.append(j)
    if out.dropped and overlength == "error":
        worst = ", ".join(f"{d['id']!r} ({d['tokens']} tokens)" for d in out.dropped[:5])
        raise ValueError(f"{len(out.dropped)} of {len(records)} pairs exceed max_length = {max_length} tokens "
                         f"(prompt + longer response, bos/eos not counted), e.g. {worst}. Filter them upstream "
                         "(MATH.md §8 keeps pairs of ≤ 512 tokens), raise max_length, or set overlength: drop.")
    if out.dropped:
        log.warning("dropped %d of %d pairs longer than %d tokens", len(out.dropped), len(records), max_length)
    return out


def collate(prompts: Sequence[list[int]], responses: Sequence[list[int]], pad_id: int):
    """Right-padded ``input_ids``, ``attention_mask`` and ``response_mask`` ([N, T]) of the
    sequences ``prompt + response``; ``response_mask`` marks response tokens (the scored ones)."""
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses)]
    n, t = len(lengths), max(lengths)
    input_ids = torch.full((n, t), pad_id, dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):  # one copy per sequence, not per token
        input_ids[i, :lengths[i]] = torch.tensor(p + r, dtype=torch.long)
    pos = torch.arange(t)
    lens = torch.tensor(lengths)
    starts = torch.tensor([len(p) for p in prompts])
    attention_mask = (pos < lens[:, None]).long()
    response_mask = (pos >= starts[:, None]) & (pos < lens[:, None])
    return input_ids, attention_mask, response_mask


def pair_batch(enc: EncodedPairs, idx: Sequence[int], pad_id: int):
    """One forward batch of pairs ``idx``: rows 0..B−1 are chosen, B..2B−1 rejected."""
    prompts = [enc.prompt[i] for i in idx]
    return collate(prompts + prompts, [enc.chosen[i] for i in idx] + [enc.rejected[i] for i in idx], pad_id)


# ----------------------------------------------------------------------------- scores


def sequence_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor,
                      reduction: str = "sum") -> torch.Tensor:
    """``log π(y|x) = Σ_{t: response_mask[t]} log softmax(logits[t−1])[input_ids[t]]`` per row
    (MATH.md §4/§8 sequence log-probability). The shift is the causal one: the logits at
    position t − 1 predict token t, so the prompt is context only and padding scores nothing.
    ``reduction='mean'`` divides by the number of scored tokens: the mean log-probability per
    response token (the length-normalised arm)."""
    targets = input_ids[:, 1:].masked_fill(~response_mask[:, 1:].bool(), -100)
    # cross_entropy = −log softmax at the target, fused (no [N, T, V] log-prob copy kept for
    # backward besides the float logits); ignore_index drops prompt and padding positions
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100,
                          reduction="none")
    total = -nll.view(targets.shape).sum(-1)
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / (targets != -100).sum(-1).clamp(min=1)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def reference_code_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
                            ) -> torch.Tensor:
    """The public reference code's sequence score (arashne/dahp, Llama-experiments/train.py):
    ``Σ_{t: attention_mask[t]} log softmax(logits[t])[input_ids[t]]`` — **unshifted** (the logits
    at position t, which have already seen token t, scored against token t itself), over every
    real token (bos, prompt, response, eos), summed. Not a log-probability of anything; kept as an
    optional arm to measure what it does to Figure 5. The prompt's terms are the same for the
    two responses of a pair (causal attention), so they cancel in h up to rounding."""
    targets = input_ids.masked_fill(~attention_mask.bool(), -100)
    nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="none")
    return -nll.view(targets.shape).sum(-1)


def _inner(model):
    """The transformers model under an optional peft wrapper (LoRA layers stay injected)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _policy_score(logits, input_ids, attention_mask, response_mask, scoring: str) -> torch.Tensor:
    if scoring in ("response_sum", "base_reference"):
        return sequence_logprobs(logits, input_ids, response_mask)
    if scoring == "response_mean":
        return sequence_logprobs(logits, input_ids, response_mask, reduction="mean")
    if scoring == "reference_code":
        return reference_code_logprobs(logits, input_ids, attention_mask)
    raise ValueError(f"dpo scoring must be one of {', '.join(DPO_SCORINGS)}, got {scoring!r}")


def sequence_scores(model, input_ids, attention_mask, response_mask, objective: str,
                    scoring: str = "response_sum") -> torch.Tensor:
    """Per-sequence score: for a policy (``objective='dpo'``) the ``scoring`` of
    :data:`hetpref.lm.variants.DPO_SCORINGS` — ``log π(y|x)`` by default, h then being the
    uniform-reference DPO margin; ``base_reference`` returns ``log π(y|x) − log π_ref(y|x)`` with
    π_ref the frozen base (the peft model with its adapter disabled, no gradient: no second copy
    of the model), so h is standard DPO's implicit-reward margin (β = 1). For a reward model,
    ``R(x, y)``: the score head at the last non-pad token. The pooling is ours, from the
    attention mask: transformers pools the last token ≠ pad_token_id, wrong when pad = eos
    (SmolLM2, and our sequences end with eos)."""
    if objective == "dpo":
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        score = _policy_score(logits, input_ids, attention_mask, response_mask, scoring)
        if scoring == "base_reference":
            if not hasattr(model, "disable_adapter"):
                raise ValueError("dpo scoring 'base_reference' needs a peft model (the base is its adapter disabled)")
            with torch.no_grad(), model.disable_adapter():
                ref_logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
                ref = sequence_logprobs(ref_logits, input_ids, response_mask)
            score = score - ref  # outside no_grad: the policy's term keeps its gradient
        return score
    if objective == "reward":
        inner = _inner(model)
        hidden = getattr(inner, inner.base_model_prefix)(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.sum(-1) - 1  # right padding: the last real token
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return inner.score(pooled).squeeze(-1).float()
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


# ----------------------------------------------------------------------------- Trainer pieces


@dataclass
class TrainResult:
    adapter_dir: Path
    metrics: dict
    provenance: dict


class TrainingInterrupted(RuntimeError):
    """Raised by callbacks (tests) to simulate a killed job."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def records_sha256(records: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r["id"], r["prompt"], r["chosen"], r["rejected"]], ensure_ascii=False).encode())
    return h.hexdigest()


def tokenizer_sha256(tokenizer) -> str:
    """Identity of a tokenizer's vocabulary and special tokens (a retrained tokenizer of the same
    size must not resume an old checkpoint)."""
    vocab = sorted(tokenizer.get_vocab().items())
    special = [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id]
    return hashlib.sha256(json.dumps([vocab, special], ensure_ascii=False).encode()).hexdigest()


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The pair order of an epoch: a function of (seed, epoch) only, so a resumed run needs no
    saved iterator state and every process count sees the same order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class PairDataset(torch.utils.data.Dataset):
    """Indices of the encoded pairs (the collator builds the tensors). Holds the current epoch
    for :class:`EpochPermutationSampler`: accelerate forwards ``set_epoch`` to the sampler or to
    the dataset depending on how the data loader is wrapped (a resumed multi-process loader
    reaches only the dataset), so both lead here."""

    def __init__(self, n: int):
        self.n, self.epoch = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)


class EpochPermutationSampler(torch.utils.data.Sampler):
    """Yields :func:`epoch_order` of the current epoch, cut to a whole number of global batches.

    accelerate shards the batches of this order round-robin over the processes (batch k of
    ``per_device`` pairs goes to process k mod N), so optimizer step s always covers positions
    ``[s·G, (s+1)·G)`` of the order, G = ``batch_size``, whatever the split into processes and
    accumulation steps. The ``n mod G`` pairs at the end of each epoch's order are not used in
    that epoch (another draw each epoch): a short last batch would be weighted differently by
    different process counts (DDP averages equal-sized shards)."""

    def __init__(self, dataset: PairDataset, seed: int, global_batch: int):
        self.dataset, self.seed, self.global_batch = dataset, int(seed), int(global_batch)
        self.n_used = len(dataset) // self.global_batch * self.global_batch

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return self.n_used

    def __iter__(self):
        return iter(epoch_order(self.seed, self.dataset.epoch, len(self.dataset))[:self.n_used].tolist())


class PairCollator:
    """A batch of pair indices → :func:`pair_batch`'s tensors (chosen rows first) and the indices."""

    def __init__(self, enc: EncodedPairs, pad_id: int):
        self.enc, self.pad_id = enc, pad_id

    def __call__(self, idx: list[int]) -> dict:
        input_ids, attention_mask, response_mask = pair_batch(self.enc, idx, self.pad_id)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask,
                "pair_index": torch.tensor(idx, dtype=torch.long)}


class PairScorer(torch.nn.Module):
    """The module the Trainer trains: the (peft) model plus our pooling, ``forward`` → one score
    per sequence (:func:`sequence_scores`). Everything runs inside ``forward`` so that DDP's
    gradient hooks and the mixed-precision autocast see the whole computation."""

    def __init__(self, model, objective: str, scoring: str = "response_sum"):
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if scoring not in DPO_SCORINGS:
            raise ValueError(f"scoring must be one of {', '.join(DPO_SCORINGS)}, got {scoring!r}")
        self.model, self.objective, self.scoring = model, objective, scoring

    def forward(self, input_ids, attention_mask, response_mask):
        return sequence_scores(self.model, input_ids, attention_mask, response_mask, self.objective, self.scoring)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs=None, **kwargs):
        """Called by the Trainer when ``activation_checkpointing`` is on: forwarded to the
        transformers model (non-reentrant, so the frozen inputs need no ``requires_grad``)."""
        inner = _inner(self.model)
        kw = activation_checkpointing_kwargs or {"use_reentrant": False}
        if hasattr(inner, "activation_checkpointing_enable"):  # transformers ≥ 5.2x
            inner.activation_checkpointing_enable(activation_checkpointing_kwargs=kw, **kwargs)
        else:
            inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kw, **kwargs)

    @property
    def is_activation_checkpointing(self) -> bool:
        inner = _inner(self.model)
        if hasattr(inner, "is_activation_checkpointing"):  # transformers ≥ 5.2x
            return bool(inner.is_activation_checkpointing)
        return bool(getattr(inner, "is_gradient_checkpointing", False))


def per_device_batch(cfg: LMTrainConfig, world_size: int) -> int:
    """Pairs per device and micro-batch: ``batch_size / (gradient_accumulation_steps × processes)``."""
    from .resources import batch_split_problem

    problem = batch_split_problem(cfg.batch_size, cfg.gradient_accumulation_steps, world_size)
    if problem:
        raise ValueError(problem)
    return cfg.batch_size // (cfg.gradient_accumulation_steps * world_size)


def mixed_precision(cfg: LMTrainConfig, device: str | torch.device) -> str:
    """``"bf16"`` on CUDA with dtype auto / bf16 (the paper trains in bf16), ``"fp16"`` with
    fp16 on CUDA, else ``"no"`` (CPU trains in the loaded dtype, float32 by default)."""
    if torch.device(device).type != "cuda":
        return "no"
    return {"auto": "bf16", "bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16"}.get(cfg.dtype, "no")


def trainer_arguments(cfg: LMTrainConfig, output_dir: str | Path, device: str | torch.device, seed: int,
                      world_size: int = 1) -> dict:
    """Keyword arguments of ``transformers.TrainingArguments`` for a config (a dict, so it can be
    checked without CUDA: TrainingArguments refuses bf16 on a machine without a GPU)."""
    device = torch.device(device)
    precision = mixed_precision(cfg, device)
    return dict(
        output_dir=str(output_dir), seed=seed,
        per_device_train_batch_size=per_device_batch(cfg, world_size),
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_train_epochs=cfg.epochs,
        # AdamW with the paper's weight decay; linear schedule from lr to 0, no warm-up
        optim="adamw_torch", learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8,
        lr_scheduler_type="linear", warmup_steps=0,
        max_grad_norm=cfg.max_grad_norm if cfg.max_grad_norm is not None else 0.0,  # 0 = no clipping
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device.type == "cpu",
        # a backend only for a multi-process launch (accelerate would try to join a process group otherwise)
        ddp_backend=("gloo" if device.type == "cpu" else "nccl") if world_size > 1 else None,
        ddp_find_unused_parameters=False,  # every trainable weight (LoRA, score head) gets a gradient each step
        logging_strategy="steps", logging_steps=1, logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",
        # checkpoints are rotated by PreferenceTrainer once complete on every rank (see _save_checkpoint)
        save_strategy="steps" if cfg.checkpoint_every else "no", save_steps=max(cfg.checkpoint_every, 1),
        save_total_limit=None,
        report_to="none", disable_tqdm=True, log_level="warning",
        dataloader_num_workers=0, dataloader_drop_last=True, dataloader_pin_memory=device.type == "cuda",
        remove_unused_columns=False, eval_strategy="no", use_cache=False,
    )


# transformers renamed gradient_checkpointing* to activation_checkpointing* (5.2x); older images
# (the GPU check's machine had 5.17) know only the old names, with the same meaning
_OLD_ARGUMENT_NAMES = {"activation_checkpointing": "gradient_checkpointing",
                       "activation_checkpointing_kwargs": "gradient_checkpointing_kwargs"}


def supported_arguments(arguments_class, kwargs: dict) -> dict:
    """``kwargs`` under the names ``arguments_class`` (TrainingArguments) knows: a renamed argument
    under its old name; any other unknown one is an error naming it (never dropped silently)."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(arguments_class)}
    out = {}
    for k, v in kwargs.items():
        name = k if k in known else _OLD_ARGUMENT_NAMES.get(k)
        if name not in known:
            raise TypeError(f"this transformers' {arguments_class.__name__} has no argument {k!r}: install the "
                            "pinned version (pyproject.toml)")
        out[name] = v
    return out


TRAIN_LOG_COLUMNS = ("step", "epoch", "loss", "accuracy", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s")


def step_row(entry: dict) -> dict:
    """A row of ``train_log.csv`` from a Trainer log entry of a training step."""
    return {"step": entry["step"], "epoch": entry["epoch"], "loss": entry["loss"], "accuracy": entry["accuracy"],
            "lr": entry["learning_rate"], "grad_norm": entry.get("grad_norm"), "tokens": entry["tokens"],
            "tokens_per_s": entry["tokens_per_s"], "elapsed_s": entry["elapsed_s"]}


def write_train_log(path: Path, history: list[dict], mode: str = "w") -> None:
    """One row per optimizer step (:data:`TRAIN_LOG_COLUMNS`); ``mode='a'`` appends rows."""
    with open(path, mode, newline="") as f:
        w = csv.DictWriter(f, fieldnames=TRAIN_LOG_COLUMNS, extrasaction="ignore")
        if mode == "w":
            w.writeheader()
        w.writerows(history)


CHECKPOINT_MARKER = "hetpref_checkpoint.json"
_CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")
# The Trainer's per-step log (logging_steps = 1) lives beside the checkpoints, appended one line
# per step; each checkpoint's trainer_state.json keeps only its last step (rewritten whole at every
# save, the full history would make a paper-scale run write O(steps²) bytes: ~15 GB at 78k steps
# and a save every 100). A resume reads the history back up to the checkpoint's step.
LOG_HISTORY_FILE = "log_history.jsonl"


def read_log_history(root: Path, entries: int) -> list[dict]:
    """The first ``entries`` lines of ``root/log_history.jsonl`` (a checkpoint's history: later
    lines, perhaps a half-written one from a kill, are not read)."""
    path = root / LOG_HISTORY_FILE
    out = []
    if path.is_file():
        with open(path) as f:
            for line in f:
                if len(out) == entries:
                    break
                out.append(json.loads(line))
    if len(out) != entries:
        raise RuntimeError(f"{path} holds {len(out)} complete log entries, the checkpoint needs {entries}")
    return out


def _write_log_history(path: Path, history: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in history))
    os.replace(tmp, path)


class _LogHistoryFile(TrainerCallback):
    """Puts a resumed run's full history back into the Trainer's state (its trainer_state.json
    holds the last step only) before any other callback reads it, rewrites the history file to
    exactly that (main process), then appends each logged entry."""

    def __init__(self, root: Path | None, history: list[dict] | None):
        self.path = None if root is None else root / LOG_HISTORY_FILE  # None: no checkpoints, no file
        self.history = history

    def on_train_begin(self, args, state, control, **kwargs):
        if self.history is not None:
            last = [e["step"] for e in self.history if "loss" in e][-1:]
            if last != [e["step"] for e in state.log_history if "loss" in e][-1:]:
                raise RuntimeError(f"{self.path} does not end at the checkpoint's step {state.global_step}")
            state.log_history = list(self.history)
        if state.is_world_process_zero and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_log_history(self.path, state.log_history)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.path is not None and state.log_history:
            with open(self.path, "a") as f:
                f.write(json.dumps(state.log_history[-1]) + "\n")


def select_checkpoint(root: Path, fingerprint: str, clean: bool = True) -> tuple[Path | None, dict | None]:
    """The newest complete checkpoint under ``root`` (``checkpoint-<step>/`` with our marker)
    whose fingerprint matches, and its marker. With ``clean`` (the main process), everything
    else under ``root`` is removed: checkpoints of another run (warned), incomplete ones (a
    kill mid-save) and older ones."""
    if not root.exists():
        return None, None
    best, best_info, entries = None, None, sorted(root.iterdir())
    for path in entries:
        m = _CHECKPOINT_DIR.fullmatch(path.name)
        marker = path / CHECKPOINT_MARKER
        if not (m and path.is_dir() and marker.exists()):
            continue
        info = json.loads(marker.read_text())
        if info.get("format") == CHECKPOINT_FORMAT and info.get("fingerprint") == fingerprint and (
                best_info is None or info["step"] > best_info["step"]):
            best, best_info = path, info
    if clean:
        # the history file belongs to the checkpoint kept (another run's goes with its checkpoints)
        others = [p for p in entries if p != best and not (best is not None and p.name == LOG_HISTORY_FILE)]
        if best is None and others:
            log.warning("ignoring checkpoint %s: it belongs to another run (config, seed or data differ) or is "
                        "incomplete", root)
        for p in others:
            if best is not None:
                log.info("removing %s (incomplete or older than %s)", p, best.name)
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return best, best_info


class _LogStream:
    """A file for tqdm that writes each refresh of the bar as one log line ('\\r' → new line),
    so the progress shows in the rule's log file, not only on a terminal."""

    def __init__(self, logger: logging.Logger):
        self.logger, self.buffer = logger, ""

    def write(self, text: str) -> int:
        self.buffer += text
        return len(text)

    def flush(self) -> None:  # tqdm flushes after each refresh: one line per refresh
        lines, self.buffer = re.split(r"[\r\n]", self.buffer), ""
        for line in lines:
            if line.strip():
                self.logger.info("%s", line.strip())

    def isatty(self) -> bool:
        return False


class LogCallback(TrainerCallback):
    """The job log's view of training (main process only): a tqdm bar written through the
    logger every ``mininterval`` seconds (replaces the Trainer's own bar, which writes to stderr),
    a line every ``log_every`` steps, ``train_log.csv`` grown by a row per step (so a long run
    can be watched), and no checkpoint after the final step (the adapter is saved then)."""

    def __init__(self, desc: str, log_every: int, progress: bool = True, mininterval: float = 5.0,
                 csv_path: Path | None = None):
        self.desc, self.log_every, self.progress, self.mininterval = desc, log_every, progress, mininterval
        self.csv_path, self.bar = csv_path, None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.csv_path is not None:  # grows step by step (the resumed steps first)
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            write_train_log(self.csv_path, [step_row(e) for e in state.log_history if "loss" in e])
        if state.is_world_process_zero and self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, file=_LogStream(log),
                            mininterval=self.mininterval, ncols=100, ascii=True)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = False
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and logs and "loss" in logs):
            return
        if self.csv_path is not None:
            write_train_log(self.csv_path, [step_row({**logs, "step": state.global_step})], mode="a")
        step = state.global_step
        if step % self.log_every == 0 or step == state.max_steps:
            window = _last_losses(state.log_history, self.log_every)
            mean = sum(window) / len(window)
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
            log.info("step %d/%d loss %.5f lr %.3g, %.0f tokens/s", step, state.max_steps, mean,
                     logs.get("learning_rate", float("nan")), logs.get("tokens_per_s", float("nan")))

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _last_losses(log_history: list[dict], k: int) -> list[float]:
    """The losses of the last ``k`` logged steps, read from the end (the history grows by one
    entry per step: rescanning it every step would cost O(steps²) over a long run)."""
    out = []
    for entry in reversed(log_history):
        if "loss" in entry:
            out.append(entry["loss"])
            if len(out) == k:
                break
    return out[::-1]


class _StepClock(TrainerCallback):
    """Starts the first step's clock when the loop starts (after the Trainer's set-up) and the
    token count from the (possibly resumed) state."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer._step_clock = time.perf_counter()
        self.trainer._tokens_logged = state.num_input_tokens_seen  # the resumed count after a resume


class PreferenceTrainer(Trainer):
    """``transformers.Trainer`` with our loss: ``compute_loss`` scores a batch of pairs
    (chosen rows, then rejected rows) with :class:`PairScorer`, forms ``h = s[:B] − s[B:]`` and
    returns ``preference_loss(loss_name, h).mean()`` — a per-micro-batch mean, which the Trainer
    divides by the accumulation steps (``loss_is_scaled_for_ga = False``) and DDP averages over
    processes: the mean over the global batch. It also stops on a non-finite loss naming the
    step and the pairs, adds accuracy, tokens and timings to every step's log, saves and loads
    only the trainable weights, and marks checkpoints complete."""

    loss_is_scaled_for_ga = False

    def __init__(self, *args, loss_name: str, loss_params: dict, pair_ids: Sequence[str],
                 pair_sampler: EpochPermutationSampler, fingerprint: str, elapsed_before: float = 0.0,
                 step_callback: Callable[[int, float], None] | None = None, **kwargs):
        self.loss_name, self.loss_params, self.pair_ids = loss_name, loss_params, list(pair_ids)
        self.pair_sampler, self.fingerprint, self.step_callback = pair_sampler, fingerprint, step_callback
        self.steps_per_epoch = len(pair_sampler) // pair_sampler.global_batch
        self._counts, self._tokens_logged, self._elapsed_before = None, 0, elapsed_before
        self._session_start = self._step_clock = time.perf_counter()
        self._last_callback_step = -1
        super().__init__(*args, **kwargs)
        self.add_callback(_StepClock(self))

    # -- data and optimizer
    def _get_train_sampler(self, train_dataset=None):
        return self.pair_sampler

    def get_decay_parameter_names(self, model) -> list[str]:
        # the paper gives one weight decay: LoRA matrices and the score head alike
        return [n for n, p in model.named_parameters() if p.requires_grad]

    # -- loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        idx = inputs.pop("pair_index")
        s = model(**inputs)
        b = idx.numel()
        h = s[:b] - s[b:]
        loss = preference_loss(self.loss_name, h, **self.loss_params).mean()
        self._stop_if_not_finite(loss, idx)
        counts = torch.stack([(h.detach() > 0).sum().float(), torch.tensor(float(b), device=h.device)])
        self._counts = counts if self._counts is None else self._counts + counts
        return (loss, s) if return_outputs else loss

    def _stop_if_not_finite(self, loss, idx):
        bad = ~torch.isfinite(loss.detach())
        if self.args.world_size > 1:  # every rank stops together (a lone raise would hang the others in DDP)
            any_bad = float(self.accelerator.reduce(bad.float().reshape(1), reduction="sum")) > 0
        else:
            any_bad = bool(bad)
        if any_bad:
            step = self.state.global_step + 1
            where = (f"pairs {[self.pair_ids[i] for i in idx.tolist()]}" if bool(bad)
                     else "on another process; see its message")
            raise FloatingPointError(
                f"{self.loss_name} loss is {loss.item()} at step {step} of {self.state.max_steps} "
                f"(epoch {self.state.global_step // self.steps_per_epoch + 1}, {where}); lower lr or check the data")

    # -- per-step log
    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:  # a training step (logging_steps = 1)
            now = time.perf_counter()
            counts = self._counts if self._counts is not None else torch.zeros(2, device=self.args.device)
            if self.args.world_size > 1:
                counts = self.accelerator.reduce(counts, reduction="sum")
            self._counts = None
            correct, n = counts.tolist()
            tokens = int(self.state.num_input_tokens_seen - self._tokens_logged)
            self._tokens_logged = self.state.num_input_tokens_seen
            seconds = now - self._step_clock
            logs.update(accuracy=correct / n if n else float("nan"), tokens=tokens, step_seconds=seconds,
                        tokens_per_s=tokens / seconds if seconds > 0 else float("nan"),
                        elapsed_s=self._elapsed_before + now - self._session_start)
        super().log(logs, start_time)

    def _maybe_log_save_evaluate(self, *args, **kwargs):
        super()._maybe_log_save_evaluate(*args, **kwargs)
        self._step_clock = time.perf_counter()  # a step's time excludes the previous step's checkpoint
        step = self.state.global_step
        if self.step_callback is not None and step > self._last_callback_step and self.state.log_history:
            self._last_callback_step = step
            self.step_callback(step, _last_losses(self.state.log_history, 1)[-1])

    # -- checkpoints: trainable weights only, complete on every rank before they count
    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        if not self.args.should_save:
            return
        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        # peft writes the LoRA matrices and the score head (modules_to_save), never the base
        save_adapter(self.accelerator.unwrap_model(self.model).model, output_dir)  # no network (models.py)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        peft_model = self.accelerator.unwrap_model(model if model is not None else self.model).model
        weights = load_file(os.path.join(resume_from_checkpoint, "adapter_model.safetensors"))
        result = set_peft_model_state_dict(peft_model, weights)
        missing = [k for k in result.missing_keys if "lora_" in k or "modules_to_save" in k]
        if missing or result.unexpected_keys:
            raise RuntimeError(f"checkpoint {resume_from_checkpoint} does not match the model: missing "
                               f"{missing[:5]}, unexpected {list(result.unexpected_keys)[:5]}")

    def _save_checkpoint(self, model, trial) -> None:
        # trainer_state.json keeps the last step only (LOG_HISTORY_FILE holds the rest): the file
        # rewritten at every save stays the same size however long the run
        history = self.state.log_history
        self.state.log_history = [e for e in history if "loss" in e][-1:]
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.state.log_history = history
        self.accelerator.wait_for_everyone()  # every rank's RNG state written
        if self.args.should_save:
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            with open(Path(self.args.output_dir) / LOG_HISTORY_FILE, "a") as f:
                os.fsync(f.fileno())  # the history up to this step is on disk before the checkpoint counts
            marker = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "step": self.state.global_step,
                      "total_steps": self.state.max_steps, "world_size": self.args.world_size,
                      "log_entries": len(history)}
            tmp = folder / (CHECKPOINT_MARKER + ".tmp")
            tmp.write_text(json.dumps(marker) + "\n")
            os.replace(tmp, folder / CHECKPOINT_MARKER)  # the checkpoint counts from here on
            for other in Path(self.args.output_dir).iterdir():
                if other != folder and _CHECKPOINT_DIR.fullmatch(other.name):
                    shutil.rmtree(other)
        self.accelerator.wait_for_everyone()


# ----------------------------------------------------------------------------- training


def train(objective: str, dataset: str, records: Sequence[dict], tokenizer, model_spec: str,
          cfg: LMTrainConfig, seed: int, out_dir: str | Path, device: str | torch.device | None = "auto",
          tiny_config: dict | None = None, tokenizer_dir: str | Path | None = None,
          callback: Callable[[int, float], None] | None = None, progress: bool = True,
          keep_checkpoint: bool = False) -> TrainResult:
    """Train a LoRA policy (``objective='dpo'``) or reward model (``'reward'``) on ``records``
    of ``dataset`` with the dataset's loss (:func:`loss_for`), AdamW and a linear schedule from
    ``cfg.lr`` to 0; one epoch of batches of ``cfg.batch_size`` pairs by default (MATH.md §8),
    on ``transformers.Trainer`` (:class:`PreferenceTrainer`).

    Run by every process of a ``torchrun`` launch (:mod:`hetpref.lm.launch`) or in-process:
    the global batch ``cfg.batch_size`` is split into ``gradient_accumulation_steps`` micro-
    batches on each of ``WORLD_SIZE`` processes; the main process writes the outputs.

    Writes ``out_dir/adapter/`` (LoRA adapter, plus ``base.json`` naming the base),
    ``out_dir/metrics.json`` (deterministic: losses, no timings), ``out_dir/train_log.csv``
    (one row per optimizer step: step, epoch, loss, accuracy, lr, grad_norm, tokens — real,
    summed over processes — tokens_per_s, elapsed_s) and ``out_dir/provenance.json`` (seed,
    versions, git SHA, device, world size, config hash, loss curve, tokens/s, wall time).

    Every ``cfg.checkpoint_every`` steps it saves ``out_dir/checkpoint/checkpoint-<step>/``
    (the adapter and score head, optimizer, scheduler, RNG states per process, trainer state);
    started again with a complete checkpoint of the same run (same config up to
    :data:`RESUME_NEUTRAL_FIELDS`, seed, data, tokenizer, device type: a fingerprint), it
    resumes from it, and the result equals an uninterrupted run on CPU. A checkpoint of a
    different run is ignored (and replaced). The checkpoint is removed after success unless
    ``keep_checkpoint``. ``callback(step, loss)`` runs after each step (and its checkpoint).
    """
    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    t_start = time.perf_counter()
    device = resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    out_dir = Path(out_dir)
    ck_root = out_dir / "checkpoint"
    loss_name, loss_params = loss_for(objective, dataset, cfg)
    if objective == "reward" and cfg.dpo_scoring != "response_sum":
        raise ValueError(f"LMTrainConfig.dpo_scoring = {cfg.dpo_scoring!r} applies to policies; a reward model "
                         "scores with its head")
    kind = "causal_lm" if objective == "dpo" else "reward"
    dtype = resolve_dtype(cfg.dtype, device)

    enc = encode_records(records, tokenizer, cfg.max_length, cfg.overlength, cfg.add_eos)
    if len(enc) == 0:
        raise ValueError(f"no training pairs left in {dataset!r} ({len(records)} records, "
                         f"{len(enc.dropped)} over max_length)")
    steps_per_epoch = len(enc) // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{dataset!r} has {len(enc)} training pairs, fewer than one batch "
                         f"(LMTrainConfig.batch_size = {cfg.batch_size})")
    unused = len(enc) - steps_per_epoch * cfg.batch_size
    total_steps = cfg.epochs * steps_per_epoch
    args = TrainingArguments(**supported_arguments(TrainingArguments, trainer_arguments(cfg, ck_root, device, seed,
                                                                                       world_size)))
    base_desc = describe_base(model_spec, kind, cfg.dtype, tiny_config, seed,
                              None if tokenizer_dir is None else str(tokenizer_dir))
    run_config = {"objective": objective, "dataset": dataset, "loss": loss_name, "loss_params": loss_params,
                  "model": model_spec, "base": base_desc, "train": asdict(cfg), "seed": seed}
    data_sha256 = records_sha256(records)
    # what must match for a checkpoint to be resumed: everything that changes the numbers beyond
    # floating-point noise (the tokenizer by content, not by where it lies; not the process count)
    fingerprint = config_hash({**run_config, "base": {**base_desc, "tokenizer_dir": None},
                               "train": {k: v for k, v in asdict(cfg).items() if k not in RESUME_NEUTRAL_FIELDS},
                               "data": data_sha256, "tokenizer": tokenizer_sha256(tokenizer),
                               "device": device.type})

    torch.manual_seed(seed)  # the LoRA initialisation
    model = load_base_model(model_spec, tokenizer, kind, dtype, tiny_config, seed=seed,
                            attn_implementation=cfg.attn_implementation)
    model = add_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, kind, cfg.target_modules)
    scorer = PairScorer(model, objective, cfg.dpo_scoring)

    with args.main_process_first(local=False, desc="checkpoint selection"):
        resume, resume_info = select_checkpoint(ck_root, fingerprint, clean=args.should_save)
    elapsed_before, resume_history = 0.0, None
    if resume is not None:
        state = json.loads((resume / "trainer_state.json").read_text())
        if "log_entries" in resume_info:  # else a checkpoint whose trainer state holds the whole history
            resume_history = read_log_history(ck_root, resume_info["log_entries"])
        steps = [e for e in state["log_history"] if "loss" in e]
        elapsed_before = steps[-1]["elapsed_s"] if steps else 0.0
        log.info("resuming from %s at step %d of %d", resume, resume_info["step"], total_steps)
        if resume_info.get("world_size") != world_size:
            log.warning("checkpoint %s was written by %s processes, resuming with %d: the data order and optimizer "
                        "state carry over, the per-process dropout streams do not", resume,
                        resume_info.get("world_size"), world_size)

    pairs = PairDataset(len(enc))
    sampler = EpochPermutationSampler(pairs, seed, cfg.batch_size)
    desc = f"{objective}/{dataset}/seed{seed}"
    trainer = PreferenceTrainer(
        model=scorer, args=args, train_dataset=pairs, data_collator=PairCollator(enc, tokenizer.pad_token_id),
        callbacks=[_LogHistoryFile(ck_root if cfg.checkpoint_every else None, resume_history),  # first: the others read the restored history
                   LogCallback(desc, cfg.log_every, progress, csv_path=out_dir / "train_log.csv")],
        loss_name=loss_name, loss_params=loss_params,
        pair_ids=enc.ids, pair_sampler=sampler, fingerprint=fingerprint, elapsed_before=elapsed_before,
        step_callback=callback)
    for cb in (ProgressCallback, PrinterCallback):  # LogCallback writes the progress into the job log instead
        trainer.remove_callback(cb)
    n_trainable = sum(p.numel() for p in scorer.parameters() if p.requires_grad)
    log.info("%s on %s: %d pairs (%d dropped, %d unused per epoch: not a whole batch), %d steps of %d pairs "
             "(%d per device × %d accumulation × %d processes), loss %s %s, %d trainable parameters, device %s %s, "
             "mixed precision %s, attention %s, activation checkpointing %s", objective, dataset, len(enc),
             len(enc.dropped), unused, total_steps, cfg.batch_size, args.per_device_train_batch_size,
             cfg.gradient_accumulation_steps, world_size, loss_name, loss_params, n_trainable, device, dtype,
             mixed_precision(cfg, device), cfg.attn_implementation, cfg.gradient_checkpointing)

    t_loop = time.perf_counter()
    trainer.train(resume_from_checkpoint=None if resume is None else str(resume))
    loop_seconds = time.perf_counter() - t_loop

    history = [step_row(e) for e in trainer.state.log_history if "loss" in e]
    if len(history) != total_steps:
        raise RuntimeError(f"expected {total_steps} logged steps, the Trainer logged {len(history)}")
    tokens = int(trainer.state.num_input_tokens_seen)
    resumed_step = 0 if resume_info is None else resume_info["step"]
    session_tokens = sum(e["tokens"] for e in history if e["step"] > resumed_step)
    last = history[-min(len(history), cfg.log_every):]
    metrics = {"objective": objective, "dataset": dataset, "seed": seed, "loss": loss_name,
               "loss_params": loss_params, "model": model_spec, "steps": total_steps, "n_pairs": len(enc),
               "n_dropped": len(enc.dropped), "dropped": enc.dropped, "n_unused_per_epoch": unused,
               "final_loss": sum(e["loss"] for e in last) / len(last),
               "final_train_accuracy": sum(e["accuracy"] for e in last) / len(last),
               "loss_history": [e["loss"] for e in history], "tokens": tokens}
    adapter_dir = out_dir / "adapter"
    wall = elapsed_before + time.perf_counter() - t_start
    prov = provenance(seed, run_config, loss_trajectory=_loss_curve(history, cfg.log_every),
                      device=_device_name(args.device), threads=torch.get_num_threads(), wall_seconds=wall,
                      train_loop_seconds=loop_seconds,
                      tokens_per_second=session_tokens / loop_seconds if loop_seconds > 0 else None,
                      tokens=tokens, resumed_from_step=None if resume_info is None else resume_info["step"],
                      data_sha256=data_sha256, fingerprint=fingerprint, lm_versions=package_versions(LM_PACKAGES),
                      trainer="transformers.Trainer", world_size=args.world_size,
                      per_device_batch_size=args.per_device_train_batch_size,
                      gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                      mixed_precision=mixed_precision(cfg, device), attn_implementation=cfg.attn_implementation,
                      activation_checkpointing=scorer.is_activation_checkpointing,
                      weights_snapshot=weights_snapshot(model_spec))
    if args.should_save:
        save_adapter(model, adapter_dir)
        (adapter_dir / "base.json").write_text(json.dumps(base_desc, indent=2) + "\n")
        write_json(out_dir / "metrics.json", metrics)
        write_train_log(out_dir / "train_log.csv", history)
        write_json(out_dir / "provenance.json", prov)
        if not keep_checkpoint and ck_root.exists():
            shutil.rmtree(ck_root)  # a finished run needs no resume point; a stale one would only mislead
    trainer.accelerator.wait_for_everyone()
    return TrainResult(adapter_dir, metrics, prov)


def _loss_curve(history: list[dict], every: int) -> list[dict]:
    out = []
    for start in range(0, len(history), every):
        window = history[start:start + every]
        out.append({"step": window[-1]["step"], "loss": sum(e["loss"] for e in window) / len(window),
                    "accuracy": sum(e["accuracy"] for e in window) / len(window), "lr": window[0]["lr"]})
    return out


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return str(device)
