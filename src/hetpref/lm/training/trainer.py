"""``transformers.Trainer`` for preference pairs: :class:`PreferenceTrainer` (our loss, per-step
accuracy and timings, non-finite loss stops naming the pairs, checkpoints of the trainable
weights marked complete) and the mapping of :class:`~hetpref.lm.training.config.LMTrainConfig` onto
``TrainingArguments`` (:func:`trainer_arguments`, :func:`supported_arguments`)."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import Trainer

from ...losses import preference_loss
from ..models import save_adapter
from .callbacks import StepBoundary
from .checkpoints import CHECKPOINT_DIR, CHECKPOINT_FORMAT, CHECKPOINT_MARKER, LOG_HISTORY_FILE
from .config import LMTrainConfig
from .pairs import EpochPermutationSampler


def per_device_batch(cfg: LMTrainConfig, world_size: int) -> int:
    """Pairs per device and micro-batch: ``batch_size / (gradient_accumulation_steps × processes)``."""
    from ..resources import batch_split_problem

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



class PreferenceTrainer(Trainer):
    """``transformers.Trainer`` with our loss: ``compute_loss`` scores a batch of pairs
    (chosen rows, then rejected rows) with :class:`PairScorer`, forms ``h = s[:B] − s[B:]`` and
    returns ``preference_loss(loss_name, h).mean()`` — a per-micro-batch mean, which the Trainer
    divides by the accumulation steps (``loss_is_scaled_for_ga = False``) and DDP averages over
    processes: the mean over the global batch. It also stops on a non-finite loss naming the
    step and the pairs, adds accuracy, tokens and timings to every step's log, saves and loads
    only the trainable weights, and marks checkpoints complete."""

    loss_is_scaled_for_ga = False

    # Four private Trainer methods are overridden (no public hook does their job): _get_train_sampler,
    # _save, _load_from_checkpoint and _save_checkpoint; tests/unit/test_lm_trainer_hooks.py checks
    # them against the installed transformers. The step clock and the per-step callback are public
    # (StepBoundary, a TrainerCallback).

    def __init__(self, *args, loss_name: str, loss_params: dict, pair_ids: Sequence[str],
                 pair_sampler: EpochPermutationSampler, fingerprint: str, elapsed_before: float = 0.0,
                 step_callback: Callable[[int, float], None] | None = None, **kwargs):
        self.loss_name, self.loss_params, self.pair_ids = loss_name, loss_params, list(pair_ids)
        self.pair_sampler, self.fingerprint = pair_sampler, fingerprint
        self.steps_per_epoch = len(pair_sampler) // pair_sampler.global_batch
        self._counts, self._elapsed_before = None, elapsed_before
        self.clock = StepBoundary(step_callback)  # the session's clock starts here, as the elapsed time did
        super().__init__(*args, **kwargs)
        self.add_callback(self.clock)  # last: a step ends after every other callback has seen it

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
        variance = inputs.pop("variance", None)  # corrected DPO's V̂ per pair (PairCollator)
        s = model(**inputs)
        b = idx.numel()
        h = s[:b] - s[b:]
        params = self.loss_params
        if self.loss_name == "corrected_dpo":
            if variance is None:
                raise ValueError("loss 'corrected_dpo' needs a 'variance' field (V̂ = Var_u[σ(Δ_u)]) in every "
                                 "training record")
            params = {**params, "variance": variance.to(h.dtype)}
        loss = preference_loss(self.loss_name, h, **params).mean()
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
            tokens = int(self.state.num_input_tokens_seen - self.clock.tokens_logged)
            self.clock.tokens_logged = self.state.num_input_tokens_seen
            seconds = now - self.clock.started
            logs.update(accuracy=correct / n if n else float("nan"), tokens=tokens, step_seconds=seconds,
                        tokens_per_s=tokens / seconds if seconds > 0 else float("nan"),
                        elapsed_s=self._elapsed_before + now - self.clock.session_start)
        super().log(logs, start_time)

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
                if other != folder and CHECKPOINT_DIR.fullmatch(other.name):
                    shutil.rmtree(other)
        self.accelerator.wait_for_everyone()
