"""LoRA training of policies (direct alignment) and reward models on HH-RLHF relabelled by
length-based types (MATH.md §8), with the losses of :mod:`hetpref.losses` (MATH.md §4).

- Direct alignment with a uniform reference: ``h = log π(y_c|x) − log π(y_r|x)``, where
  ``log π(y|x) = Σ_{t ∈ response} log p(y_t | x, y_<t)`` (MATH.md §4 "DPO" with the π_ref
  terms cancelled, §8 "sequence log-probability"). Only response tokens are scored, with the
  causal shift (logits at position t predict token t+1); the public reference code scores the
  unshifted logits and the prompt, which we do not copy.
- Reward models: ``h = R(x, y_c) − R(x, y_r)``, R the scalar head at the last non-pad token.
- Loss per dataset (:func:`loss_for`): ``anonymous`` (and ``average``) → ``dpo`` (policy) /
  ``bt_reward`` (reward model); ``unanimous`` / ``unanimous_filtered`` → ``consistent`` with
  ``n_types = 3`` (Eq. 20, −log σ(k·h), "temperature-adjusted"); ``ipo`` (τ) as an optional baseline.

Sequences are ``[bos] + prompt + response + [eos]`` with prompt and response tokenised apart
(so the response boundary is exact), right-padded; chosen and rejected responses of a batch run
in one forward pass. Training is deterministic for a seed on CPU (same thread count), and
resumes bit-identically from ``out_dir/checkpoint/`` after a kill.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

import torch.nn.functional as F

from ..losses import preference_loss
from ..provenance import config_hash, provenance, write_json
from .models import add_lora, describe_base, load_base_model, resolve_dtype

log = logging.getLogger("hetpref.lm.train")

OBJECTIVES = ("dpo", "reward")
# "average": labels drawn from r̄ itself (MATH.md §4, the indirect consistent alternative), plain loss
TRAIN_DATASETS = ("anonymous", "unanimous", "unanimous_filtered", "average", "indirect",
                  "per_type_u1", "per_type_u2", "per_type_u3")
# plain DPO / BT: one BT label per pair (anonymous), labels from r̄ (average) or from the averaged
# per-type reward models (indirect, §6), and each type's own labels (per_type_u<k>)
PLAIN_DATASETS = ("anonymous", "average", "indirect", "per_type_u1", "per_type_u2", "per_type_u3")
CHECKPOINT_FORMAT = 1


@dataclass
class LMTrainConfig:
    """Training hyper-parameters; defaults are the paper's (MATH.md §8)."""
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale alpha/r)"})
    lora_dropout: float = field(default=0.1, metadata={"help": "dropout on the LoRA input"})
    lr: float = field(default=3e-5, metadata={"help": "AdamW peak learning rate, decays linearly to 0"})
    weight_decay: float = field(default=0.001, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(default=2, metadata={"help": "preference pairs per optimizer step"})
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
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute for memory (8B models)"})
    target_modules: list | None = field(default=None, metadata={"help": "LoRA targets; None = peft's default"})

    def __post_init__(self):
        for name in ("lora_r", "lora_alpha", "batch_size", "epochs", "max_length", "log_every", "n_types"):
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
        if self.target_modules is not None:
            self.target_modules = list(self.target_modules)


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


def sequence_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """``log π(y|x) = Σ_{t: response_mask[t]} log softmax(logits[t−1])[input_ids[t]]`` per row
    (MATH.md §4/§8 sequence log-probability). The shift is the causal one: the logits at
    position t − 1 predict token t, so the prompt is context only and padding scores nothing."""
    targets = input_ids[:, 1:].masked_fill(~response_mask[:, 1:].bool(), -100)
    # cross_entropy = −log softmax at the target, fused (no [N, T, V] log-prob copy kept for
    # backward besides the float logits); ignore_index drops prompt and padding positions
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100,
                          reduction="none")
    return -nll.view(targets.shape).sum(-1)


def _inner(model):
    """The transformers model under an optional peft wrapper (LoRA layers stay injected)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def sequence_scores(model, input_ids, attention_mask, response_mask, objective: str) -> torch.Tensor:
    """Per-sequence score: ``log π(y|x)`` for a policy (``objective='dpo'``), ``R(x, y)`` for a
    reward model — the score head at the last non-pad token. The pooling is ours, from the
    attention mask: transformers pools the last token ≠ pad_token_id, wrong when pad = eos
    (SmolLM2, and our sequences end with eos)."""
    if objective == "dpo":
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return sequence_logprobs(logits, input_ids, response_mask)
    if objective == "reward":
        inner = _inner(model)
        hidden = getattr(inner, inner.base_model_prefix)(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.sum(-1) - 1  # right padding: the last real token
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return inner.score(pooled).squeeze(-1).float()
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def pair_h(model, enc: EncodedPairs, idx: Sequence[int], objective: str, pad_id: int, device) -> tuple:
    """Winner-first ``h`` of pairs ``idx`` (chosen − rejected score) and the batch's real tokens."""
    input_ids, attention_mask, response_mask = (t.to(device) for t in pair_batch(enc, idx, pad_id))
    s = sequence_scores(model, input_ids, attention_mask, response_mask, objective)
    b = len(idx)
    return s[:b] - s[b:], int(attention_mask.sum())


# ----------------------------------------------------------------------------- training


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


def _rng_state(device) -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The pair order of an epoch: a function of (seed, epoch) only, so a resumed run needs no
    saved iterator state."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def _trainable(model) -> dict:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(ck_dir: Path, state: dict) -> None:
    """Atomic: written to a temporary file, then renamed, so a kill mid-write leaves the
    previous checkpoint intact."""
    ck_dir.mkdir(parents=True, exist_ok=True)
    tmp = ck_dir / "state.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, ck_dir / "state.pt")
    (ck_dir / "progress.json").write_text(json.dumps({"step": state["step"], "total": state["total_steps"]}) + "\n")


def train(objective: str, dataset: str, records: Sequence[dict], tokenizer, model_spec: str,
          cfg: LMTrainConfig, seed: int, out_dir: str | Path, device: str | torch.device | None = "auto",
          tiny_config: dict | None = None, tokenizer_dir: str | Path | None = None,
          callback: Callable[[int, float], None] | None = None, progress: bool = True,
          keep_checkpoint: bool = False) -> TrainResult:
    """Train a LoRA policy (``objective='dpo'``) or reward model (``'reward'``) on ``records``
    of ``dataset`` with the dataset's loss (:func:`loss_for`), AdamW and a linear schedule from
    ``cfg.lr`` to 0; one epoch of batches of ``cfg.batch_size`` pairs by default (MATH.md §8).

    Writes ``out_dir/adapter/`` (LoRA adapter, plus ``base.json`` naming the base),
    ``out_dir/metrics.json`` (deterministic: losses, no timings) and ``out_dir/provenance.json``
    (seed, versions, git SHA, device, config hash, loss curve, tokens/s, wall time).

    Every ``cfg.checkpoint_every`` steps it saves ``out_dir/checkpoint/state.pt`` (trainable
    weights = the adapter and score head, optimizer, scheduler, RNG states, step, loss history);
    started again with a checkpoint of the same run (same config, seed, data: a fingerprint),
    it resumes from it, and the result equals an uninterrupted run on CPU. A checkpoint of a
    different run is ignored (and replaced). The checkpoint is removed after success unless
    ``keep_checkpoint``. ``callback(step, loss)`` runs after each step (and its checkpoint).
    """
    t_start = time.perf_counter()
    device = resolve_device(device)
    out_dir = Path(out_dir)
    ck_dir = out_dir / "checkpoint"
    loss_name, loss_params = loss_for(objective, dataset, cfg)
    kind = "causal_lm" if objective == "dpo" else "reward"
    dtype = resolve_dtype(cfg.dtype, device)

    enc = encode_records(records, tokenizer, cfg.max_length, cfg.overlength, cfg.add_eos)
    if len(enc) == 0:
        raise ValueError(f"no training pairs left in {dataset!r} ({len(records)} records, "
                         f"{len(enc.dropped)} over max_length)")
    steps_per_epoch = math.ceil(len(enc) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    base_desc = describe_base(model_spec, kind, cfg.dtype, tiny_config, seed,
                              None if tokenizer_dir is None else str(tokenizer_dir))
    run_config = {"objective": objective, "dataset": dataset, "loss": loss_name, "loss_params": loss_params,
                  "model": model_spec, "base": base_desc, "train": asdict(cfg), "seed": seed}
    # what must match for a checkpoint to be resumed: everything that changes the numbers
    # (the tokenizer by content, not by where it lies)
    fingerprint = config_hash({**run_config, "base": {**base_desc, "tokenizer_dir": None},
                               "train": {k: v for k, v in asdict(cfg).items()
                                         if k not in ("checkpoint_every", "log_every")},
                               "data": records_sha256(records), "tokenizer": tokenizer_sha256(tokenizer),
                               "device": device.type})

    torch.manual_seed(seed)
    model = load_base_model(model_spec, tokenizer, kind, dtype, tiny_config, seed=seed)
    model = add_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, kind, cfg.target_modules)
    if cfg.gradient_checkpointing:
        inner = _inner(model)
        # non-reentrant: needs no requires_grad on the (frozen) inputs; the method was renamed in 5.2x
        if hasattr(inner, "activation_checkpointing_enable"):
            inner.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(device)
    params = _trainable(model)
    # AdamW's decay on LoRA matrices and the score head alike (the paper gives one weight decay)
    optimizer = torch.optim.AdamW(params.values(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0,
                                                  total_iters=total_steps)

    step, history, tokens, elapsed_before, resumed_from = 0, [], 0, 0.0, None
    state_path = ck_dir / "state.pt"
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state.get("format") == CHECKPOINT_FORMAT and state.get("fingerprint") == fingerprint:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(state["adapter"][name])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])
            step, history, tokens = state["step"], state["history"], state["tokens"]
            elapsed_before, resumed_from = state["elapsed"], state["step"]
            log.info("resuming from %s at step %d of %d", state_path, step, total_steps)
        else:
            log.warning("ignoring checkpoint %s: it belongs to another run (config, seed or data differ)",
                        state_path)
            shutil.rmtree(ck_dir)

    pad_id = tokenizer.pad_token_id
    log.info("%s on %s: %d pairs (%d dropped), %d steps, loss %s %s, %d trainable parameters, device %s %s",
             objective, dataset, len(enc), len(enc.dropped), total_steps, loss_name, loss_params,
             sum(p.numel() for p in params.values()), device, dtype)
    from tqdm.auto import tqdm

    model.train()
    t_loop = time.perf_counter()
    tokens_at_start = tokens
    bar = tqdm(total=total_steps, initial=step, desc=f"{objective}/{dataset}/seed{seed}", disable=not progress,
               mininterval=2.0)
    order_epoch, order = None, None
    try:
        while step < total_steps:
            epoch, i = divmod(step, steps_per_epoch)
            if order_epoch != epoch:
                order, order_epoch = _epoch_order(seed, epoch, len(enc)), epoch
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size].tolist()
            h, n_tok = pair_h(model, enc, idx, objective, pad_id, device)
            loss = preference_loss(loss_name, h, **loss_params).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{loss_name} loss is {loss.item()} at step {step + 1} of {total_steps} "
                                         f"(epoch {epoch + 1}, pairs {[enc.ids[j] for j in idx]}); lower lr "
                                         "or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params.values(), cfg.max_grad_norm)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            step += 1
            tokens += n_tok
            history.append({"step": step, "loss": loss.item(), "accuracy": float((h > 0).float().mean()),
                            "lr": lr})
            if step % cfg.log_every == 0 or step == total_steps:
                window = history[-cfg.log_every:]
                mean = sum(e["loss"] for e in window) / len(window)
                bar.set_postfix(loss=f"{mean:.4f}")
                log.info("step %d/%d loss %.5f lr %.3g", step, total_steps, mean, lr)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total_steps:
                save_checkpoint(ck_dir, {
                    "format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "step": step,
                    "total_steps": total_steps,
                    "adapter": {n: p.detach().cpu().clone() for n, p in params.items()},
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": _rng_state(device), "history": history, "tokens": tokens,
                    "elapsed": elapsed_before + time.perf_counter() - t_start})
            bar.update(1)
            if callback is not None:
                callback(step, loss.item())
    finally:
        bar.close()
    loop_seconds = time.perf_counter() - t_loop

    adapter_dir = out_dir / "adapter"
    model.save_pretrained(str(adapter_dir))
    (adapter_dir / "base.json").write_text(json.dumps(base_desc, indent=2) + "\n")
    curve = _loss_curve(history, cfg.log_every)
    last = history[-min(len(history), cfg.log_every):]
    metrics = {"objective": objective, "dataset": dataset, "seed": seed, "loss": loss_name,
               "loss_params": loss_params, "model": model_spec, "steps": total_steps, "n_pairs": len(enc),
               "n_dropped": len(enc.dropped), "dropped": enc.dropped,
               "final_loss": sum(e["loss"] for e in last) / len(last),
               "final_train_accuracy": sum(e["accuracy"] for e in last) / len(last),
               "loss_history": [e["loss"] for e in history], "tokens": tokens}
    write_json(out_dir / "metrics.json", metrics)
    wall = elapsed_before + time.perf_counter() - t_start
    prov = provenance(seed, run_config, loss_trajectory=curve, device=_device_name(device),
                      threads=torch.get_num_threads(), wall_seconds=wall, train_loop_seconds=loop_seconds,
                      tokens_per_second=(tokens - tokens_at_start) / loop_seconds if loop_seconds > 0 else None,
                      tokens=tokens, resumed_from_step=resumed_from, data_sha256=records_sha256(records),
                      fingerprint=fingerprint, lm_versions=_lm_versions())
    write_json(out_dir / "provenance.json", prov)
    if not keep_checkpoint and ck_dir.exists():
        shutil.rmtree(ck_dir)  # a finished run needs no resume point; a stale one would only mislead
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


def _lm_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("transformers", "peft", "tokenizers", "tqdm", "gguf"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
