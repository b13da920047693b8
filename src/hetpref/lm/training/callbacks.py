"""What the Trainer reports while it trains, as ``TrainerCallback`` s: ``train_log.csv`` (one row
per optimizer step, :data:`TRAIN_LOG_COLUMNS`), the log-history file beside the checkpoints
(:class:`LogHistoryFile`), the job log's progress bar and loss lines (:class:`LogCallback`) and
the end of each step (:class:`StepBoundary`: the step clock and the caller's per-step callback)."""
from __future__ import annotations

import csv
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Callable

from transformers import TrainerCallback

from .checkpoints import LOG_HISTORY_FILE

log = logging.getLogger("hetpref.lm.training.train")

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



def _write_log_history(path: Path, history: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in history))
    os.replace(tmp, path)


class LogHistoryFile(TrainerCallback):
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


class StepBoundary(TrainerCallback):
    """The end of each optimizer step, after its log entry and, on a checkpoint step, after the
    checkpoint: the Trainer logs a step (``on_log``) and then saves it (``on_save``), so a step
    ends at ``on_log`` when no save is due (``control.should_save`` is already decided then) and
    at ``on_save`` otherwise. There it restarts the step clock (a step's time excludes the
    previous step's checkpoint) and calls ``step_callback(step, loss)`` (every process; tests
    kill a run from it right after a checkpoint). Added last, so every other callback has seen
    the step first. It also holds the token count at the last logged step, which
    :meth:`hetpref.lm.training.trainer.PreferenceTrainer.log` reads and advances."""

    def __init__(self, step_callback: Callable[[int, float], None] | None = None):
        self.step_callback = step_callback
        self.session_start = self.started = time.perf_counter()
        self.tokens_logged = 0
        self._last_step = -1

    def seconds(self) -> float:
        """Seconds since the current step's clock started."""
        return time.perf_counter() - self.started

    def on_train_begin(self, args, state, control, **kwargs):
        # the first step's clock starts with the loop (after the Trainer's set-up), the token
        # count from the (possibly resumed) state
        self.started = time.perf_counter()
        self.tokens_logged = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and not control.should_save:
            self._step_done(state)

    def on_save(self, args, state, control, **kwargs):
        self._step_done(state)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def _step_done(self, state) -> None:
        self.started = time.perf_counter()
        step = state.global_step
        if self.step_callback is not None and step > self._last_step and state.log_history:
            self._last_step = step
            self.step_callback(step, _last_losses(state.log_history, 1)[-1])
