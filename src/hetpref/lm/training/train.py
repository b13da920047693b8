"""Training one LM run, end to end (:func:`train`): LoRA policies (direct alignment) and reward
models on HH-RLHF relabelled by length-based types (docs/spec.md §8), with the losses of
:mod:`hetpref.losses` (docs/spec.md §4). This module only orchestrates; its parts live in rooms of
their own (map in :mod:`hetpref.lm`):

- :mod:`~hetpref.lm.training.config` — :class:`LMTrainConfig` and the loss per dataset (:func:`loss_for`:
  ``anonymous`` / ``average`` → ``dpo`` / ``bt_reward``; ``unanimous`` / ``unanimous_filtered`` →
  ``consistent`` with ``n_types = 3``; ``ipo`` as an optional baseline);
- :mod:`~hetpref.lm.training.pairs` — tokenised pairs, batches and the (seed, epoch) pair order;
- :mod:`~hetpref.lm.training.scoring` — ``log π(y|x)`` (response tokens, causal shift) and its arms, the
  reward head, and :class:`~hetpref.lm.training.scoring.PairScorer`;
- :mod:`~hetpref.lm.training.trainer` — :class:`~hetpref.lm.training.trainer.PreferenceTrainer` (a
  ``transformers.Trainer``) and the ``TrainingArguments`` of a config;
- :mod:`~hetpref.lm.training.callbacks` and :mod:`~hetpref.lm.training.checkpoints` — the per-step log, progress,
  step clock, and the checkpoints a killed run resumes from.

The Trainer brings gradient accumulation, activation checkpointing, bf16 autocast on CUDA,
multi-process data parallel (DDP, launched by :mod:`hetpref.lm.training.launch`), checkpoints of the
trainable weights with optimizer, scheduler and RNG states, and the per-step log. Training is
deterministic for a seed on CPU (same thread count), and resumes bit-identically from
``out_dir/checkpoint/`` after a kill.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from ...provenance import config_hash, package_versions, provenance, write_json
from ..hub import weights_snapshot
from ..models import build, describe_base, resolve_device, resolve_dtype, save_adapter
from .callbacks import LogCallback, LogHistoryFile, step_row, write_train_log
from .checkpoints import checkpoint_root, read_log_history, remove_checkpoint, select_checkpoint
from .config import RESUME_NEUTRAL_FIELDS
from .pairs import EpochPermutationSampler, PairCollator, PairDataset, encode_records, records_sha256, tokenizer_sha256
from .run import LMRun
from .scoring import PairScorer
from .trainer import PreferenceTrainer, mixed_precision, supported_arguments, trainer_arguments

log = logging.getLogger("hetpref.lm.training.train")

# the entry point and what its caller handles; every other piece is imported from its own module
__all__ = ["TrainResult", "TrainingInterrupted", "train"]

LM_PACKAGES = ("transformers", "accelerate", "peft", "tokenizers", "tqdm", "gguf")  # versions in provenance.json


@dataclass
class TrainResult:
    adapter_dir: Path
    metrics: dict
    provenance: dict
    # the trained (peft) model itself when training ran in this process, else None (torchrun's
    # ranks are other processes): evaluating it needs no second load of the base
    model: object = field(default=None, repr=False, compare=False)


class TrainingInterrupted(RuntimeError):
    """Raised by callbacks (tests) to simulate a killed job."""


def train(run: LMRun, records: Sequence[dict], tokenizer, callback: Callable[[int, float], None] | None = None,
          progress: bool = True) -> TrainResult:
    """Train the run's LoRA policy (kind ``causal_lm``) or reward model (``reward``) on ``records``
    of ``run.dataset`` with the run's loss (:attr:`LMRun.loss`), AdamW and a linear schedule from
    ``run.train.lr`` to 0; one epoch of batches of ``run.train.batch_size`` pairs by default
    (docs/spec.md §8), on ``transformers.Trainer`` (:class:`PreferenceTrainer`).

    Run by every process of a ``torchrun`` launch (:mod:`hetpref.lm.training.launch`) or in-process:
    the global batch is split into ``gradient_accumulation_steps`` micro-batches on each of
    ``WORLD_SIZE`` processes; the main process writes the outputs.

    Writes ``run.out_dir/adapter/`` (LoRA adapter, plus ``base.json`` naming the base),
    ``metrics.json`` (deterministic: losses, no timings), ``train_log.csv`` (one row per optimizer
    step: step, epoch, loss, accuracy, lr, grad_norm, tokens — real, summed over processes —
    tokens_per_s, elapsed_s) and ``provenance.json`` (seed, versions, git SHA, device, world size,
    config hash, loss curve, tokens/s, wall time).

    Every ``checkpoint_every`` steps it saves ``out_dir/checkpoint/checkpoint-<step>/`` (the
    adapter and score head, optimizer, scheduler, RNG states per process, trainer state); started
    again with a complete checkpoint of the same run (same config up to
    :data:`RESUME_NEUTRAL_FIELDS`, seed, data, tokenizer, device type: a fingerprint), it resumes
    from it, and the result equals an uninterrupted run on CPU. A checkpoint of a different run is
    ignored (and replaced). The checkpoint is removed after success unless ``run.keep_checkpoint``.
    ``callback(step, loss)`` runs after each step (and its checkpoint).
    """
    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    t_start = time.perf_counter()
    cfg, objective, dataset, seed, model_spec = run.train, run.objective, run.dataset, run.seed, run.model
    device = resolve_device(run.device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    out_dir = Path(run.out_dir)
    ck_root = checkpoint_root(out_dir)
    loss_name, loss_params = run.loss
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
    base_desc = describe_base(model_spec, run.kind, cfg.dtype, run.tiny, seed, run.tokenizer_dir)
    run_config = {"objective": objective, "dataset": dataset, "loss": loss_name, "loss_params": loss_params,
                  "model": model_spec, "base": base_desc, "train": asdict(cfg), "seed": seed}
    data_sha256 = records_sha256(records)
    # what must match for a checkpoint to be resumed: everything that changes the numbers beyond
    # floating-point noise (the tokenizer by content, not by where it lies; not the process count)
    fingerprint = config_hash({**run_config, "base": {**base_desc, "tokenizer_dir": None},
                               "train": {k: v for k, v in asdict(cfg).items() if k not in RESUME_NEUTRAL_FIELDS},
                               "data": data_sha256, "tokenizer": tokenizer_sha256(tokenizer),
                               "device": device.type})

    model = build(run, tokenizer)  # base + LoRA, seeded with the run's seed
    scorer = PairScorer(model, run.kind, run.scoring)

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
        # LogHistoryFile first: the others read the restored history (PreferenceTrainer adds its StepBoundary last)
        callbacks=[LogHistoryFile(ck_root if cfg.checkpoint_every else None, resume_history),
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
        # the attention kernel too, so that the saved adapter is scored as the model was trained
        # (not in base_desc: it is resume-neutral, RESUME_NEUTRAL_FIELDS)
        (adapter_dir / "base.json").write_text(
            json.dumps({**base_desc, "attn_implementation": cfg.attn_implementation}, indent=2) + "\n")
        write_json(out_dir / "metrics.json", metrics)
        write_train_log(out_dir / "train_log.csv", history)
        write_json(out_dir / "provenance.json", prov)
        if not run.keep_checkpoint:
            remove_checkpoint(out_dir)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(adapter_dir, metrics, prov, model=model)


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
