"""The transformers internals PreferenceTrainer relies on, checked against the
installed transformers so an upgrade that renames or reshapes them fails here, loudly, rather
than silently training with the library's default sampler or checkpoint format; and the
public-hook pieces (StepBoundary, checkpoint selection) on their own, without a model."""
from __future__ import annotations

import inspect
import json
from types import SimpleNamespace

import pytest
from transformers import Trainer, TrainerControl

from hetpref.lm.training.callbacks import StepBoundary
from hetpref.lm.training.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_MARKER, LOG_HISTORY_FILE, select_checkpoint
from hetpref.lm.training.trainer import PreferenceTrainer

# private Trainer methods PreferenceTrainer overrides, with the parameters the Trainer calls them
# with (and our override accepts): there is no public hook for these
PRIVATE_OVERRIDES = {
    "_get_train_sampler": ["self", "train_dataset"],  # our (seed, epoch) pair order
    "_save": ["self", "output_dir", "state_dict"],  # trainable weights only
    "_load_from_checkpoint": ["self", "resume_from_checkpoint", "model"],  # the same, strictly checked
    "_save_checkpoint": ["self", "model", "trial"],  # small trainer state, completion marker, rotation
}


@pytest.mark.parametrize("name", sorted(PRIVATE_OVERRIDES))
def test_private_overrides_match_the_installed_trainer(name):
    assert hasattr(Trainer, name), f"transformers.Trainer has no {name} any more: PreferenceTrainer's override is dead"
    base = list(inspect.signature(getattr(Trainer, name)).parameters)
    ours = list(inspect.signature(getattr(PreferenceTrainer, name)).parameters)
    assert base == PRIVATE_OVERRIDES[name], f"Trainer.{name}{inspect.signature(getattr(Trainer, name))} changed"
    assert ours == base
    assert getattr(PreferenceTrainer, name) is not getattr(Trainer, name)


def test_the_trainer_still_calls_the_overrides():
    # the sampler reaches the data loader through _get_train_sampler; checkpoints through _save_checkpoint
    # (which calls _save via save_model); a resume through _load_from_checkpoint
    assert "self._get_train_sampler" in inspect.getsource(Trainer.get_train_dataloader)
    assert "self._save(" in inspect.getsource(Trainer.save_model)
    assert "self._load_from_checkpoint(" in inspect.getsource(Trainer.train)


def test_a_step_logs_then_saves_then_calls_on_save():
    # StepBoundary ends a checkpoint step at on_save: the Trainer must log the step, save, then call on_save
    src = inspect.getsource(Trainer._maybe_log_save_evaluate)
    assert src.index("self.log(") < src.index("self._save_checkpoint(") < src.index("callback_handler.on_save(")
    loop = inspect.getsource(Trainer._run_epoch)  # the step loop (transformers 5.24)
    assert loop.index("callback_handler.on_step_end(") < loop.index("self._maybe_log_save_evaluate(")


def _state(step, losses, tokens=0):
    return SimpleNamespace(global_step=step, num_input_tokens_seen=tokens,
                           log_history=[{"loss": x, "step": i + 1} for i, x in enumerate(losses)])


def test_step_boundary_ends_a_step_after_its_checkpoint():
    seen = []
    clock = StepBoundary(lambda step, loss: seen.append((step, loss)))
    control = TrainerControl()
    clock.on_train_begin(None, _state(0, [], tokens=7), control)
    assert clock.tokens_logged == 7
    clock.on_log(None, _state(1, [0.5]), control, logs={"loss": 0.5})  # no save due: the step ends here
    assert seen == [(1, 0.5)]
    control.should_save = True
    started = clock.started
    clock.on_log(None, _state(2, [0.5, 0.4]), control, logs={"loss": 0.4})  # a save follows: not yet
    assert seen == [(1, 0.5)] and clock.started == started
    clock.on_save(None, _state(2, [0.5, 0.4]), control)
    assert seen == [(1, 0.5), (2, 0.4)] and clock.started > started
    clock.on_save(None, _state(2, [0.5, 0.4]), control)  # once per step
    clock.on_log(None, _state(2, [0.5, 0.4]), TrainerControl(), logs={"train_loss": 0.45})  # the summary line
    assert seen == [(1, 0.5), (2, 0.4)]


def _checkpoint(root, step, fingerprint, complete=True):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if complete:
        (folder / CHECKPOINT_MARKER).write_text(json.dumps(
            {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "step": step}))
    return folder


def test_select_checkpoint_keeps_the_newest_complete_one_of_the_run(tmp_path):
    root = tmp_path / "checkpoint"
    assert select_checkpoint(root, "f") == (None, None)
    _checkpoint(root, 2, "f")
    newest = _checkpoint(root, 4, "f")
    _checkpoint(root, 6, "f", complete=False)  # killed mid-save
    _checkpoint(root, 8, "other")  # another run
    (root / LOG_HISTORY_FILE).write_text("")
    best, info = select_checkpoint(root, "f", clean=False)
    assert best == newest and info["step"] == 4 and len(list(root.iterdir())) == 5
    best, info = select_checkpoint(root, "f")
    assert best == newest and sorted(p.name for p in root.iterdir()) == ["checkpoint-4", LOG_HISTORY_FILE]
    assert select_checkpoint(root, "new run") == (None, None) and not list(root.iterdir())
