"""HetprefDPOTrainer's loss is hetpref.losses' on h computed independently (docs/spec.md §4), for
the uniform reference and a reference model; its annotator and type columns survive to
compute_loss during a real ``trainer.train()``; bad columns get one clear error."""
from __future__ import annotations

import copy
import math

import pytest
import torch

pytest.importorskip("trl")
from datasets import Dataset  # noqa: E402 (after the skip: datasets comes with the trl extra)

from hetpref.integrations.trl import HetprefDPOConfig, HetprefDPOTrainer  # noqa: E402
from hetpref.losses import preference_loss  # noqa: E402

BETA = 0.1
ROWS = {
    "prompt": ["How do I boil an egg?", "Name a colour.", "How do I boil an egg?", "Name a colour."],
    "chosen": [" Put it in boiling water.", " Blue.", " Fry it in a pan.", " A rock."],
    "rejected": [" Fry it.", " A small rock.", " Put it in water.", " Green, like grass."],
    "pair_id": ["p1", "p2", "p3", "p4"],
    "annotator_id": ["u1", "u2", "u1", "u3"],
    # unanimous for chosen, for chosen, for rejected (h must be turned), a tie (left out)
    "label_expert": [1, 1, -1, 0],
    "label_worker": [1, 1, -1, 1],
    "variance": [0.01, 0.2, 0.0, 0.05],
}


@pytest.fixture(scope="module")
def tokenizer():
    """A byte-level BPE tokenizer with pad/bos/eos, trained on the rows (offline, in memory)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    bpe = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<bos>", "<eos>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(ROWS["prompt"] + ROWS["chosen"] + ROWS["rejected"], bpe)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


def tiny_llama(tokenizer, seed):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))


def config(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "out"), beta=BETA, per_device_train_batch_size=4, bf16=False,
                gradient_checkpointing=False, report_to="none", save_strategy="no", use_cpu=True,
                dataloader_num_workers=0, disable_tqdm=True)
    return HetprefDPOConfig(**{**base, **kw})


def summed_logps(model, batch):
    """log π(y|x) per sequence as hetpref.lm.training.scoring.sequence_logprobs defines it: the response
    tokens' log-probabilities, the logits at t − 1 scoring token t, summed (here from the full logits)."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.double()
    token = torch.log_softmax(logits[:, :-1], -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    scored = token * batch["completion_mask"][:, 1:]
    return scored.sum(-1).chunk(2)  # the batch is [chosen..., rejected...]


def independent_h(policy, reference, batch):
    chosen, rejected = summed_logps(policy, batch)
    if reference is not None:
        ref_chosen, ref_rejected = summed_logps(reference, batch)
        chosen, rejected = chosen - ref_chosen, rejected - ref_rejected
    return BETA * (chosen - rejected)


def expected_loss(name, h, batch, args):
    if name == "dpo":
        return preference_loss("dpo", h).mean()
    if name == "corrected_dpo":
        return preference_loss("corrected_dpo", h, variance=batch["variance"].double(), alpha=args.alpha,
                               variance_kind=args.variance_kind, correction_clamp=args.correction_clamp,
                               eps=args.correction_eps).mean()
    if "label_expert" not in batch:  # every row unanimous for chosen, k per row from n_types
        return torch.cat([preference_loss("consistent", h[i:i + 1], n_types=int(k))
                          for i, k in enumerate(batch["n_types"])]).mean()
    expert, worker = batch["label_expert"], batch["label_worker"]
    keep = (expert == worker) & (expert != 0)
    return preference_loss("consistent", (expert.double() * h)[keep], n_types=2).mean()


@pytest.mark.parametrize("name, reference", [
    ("consistent", "uniform"), ("consistent", "model"), ("corrected_dpo", "uniform"), ("corrected_dpo", "model"),
    ("dpo", "uniform"), ("consistent", "model, precomputed")])
def test_the_trainers_loss_is_hetprefs_on_the_same_batch(tokenizer, tmp_path, name, reference):
    policy = tiny_llama(tokenizer, seed=0)
    ref = tiny_llama(tokenizer, seed=1) if reference != "uniform" else None
    policy_copy, ref_copy = copy.deepcopy(policy), copy.deepcopy(ref)  # before TRL patches their forward
    args = config(tmp_path, hetpref_loss=name, reference=reference.split(",")[0], alpha=2.0,
                  precompute_ref_log_probs=reference.endswith("precomputed"))
    trainer = HetprefDPOTrainer(policy, ref_model=ref, args=args, train_dataset=Dataset.from_dict(ROWS),
                                processing_class=tokenizer)
    assert (trainer.ref_model is None) == (reference == "uniform")
    batch = next(iter(trainer.get_train_dataloader()))
    assert ("ref_chosen_logps" in batch) == reference.endswith("precomputed")
    loss = trainer.compute_loss(trainer.model, batch)
    expected = expected_loss(name, independent_h(policy_copy, ref_copy, batch), batch, args)
    assert loss.requires_grad and math.isfinite(loss.item())
    assert abs(loss.item() - expected.item()) < 1e-6, (loss.item(), expected.item())
    if name != "dpo":  # the hetpref loss differs from DPO's on this batch, so the check can fail
        assert abs(expected.item() - expected_loss("dpo", independent_h(policy_copy, ref_copy, batch), batch,
                                                   args).item()) > 1e-3


def test_consistent_takes_k_per_pair_from_the_n_types_column(tokenizer, tmp_path):
    rows = {k: v for k, v in ROWS.items() if not k.startswith("label_")} | {"n_types": [1, 2, 3, 2]}
    policy = tiny_llama(tokenizer, seed=0)
    policy_copy = copy.deepcopy(policy)
    args = config(tmp_path, hetpref_loss="consistent", reference="uniform")
    trainer = HetprefDPOTrainer(policy, args=args, train_dataset=Dataset.from_dict(rows), processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    expected = expected_loss("consistent", independent_h(policy_copy, None, batch), batch, args)
    assert abs(trainer.compute_loss(trainer.model, batch).item() - expected.item()) < 1e-6


@pytest.mark.parametrize("reference", ["model", "uniform"])
def test_with_lora_the_reference_is_the_base_or_uniform(tokenizer, tmp_path, reference):
    from peft import LoraConfig

    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)  # B ≠ 0
    args = config(tmp_path, hetpref_loss="corrected_dpo", reference=reference)
    trainer = HetprefDPOTrainer(tiny_llama(tokenizer, seed=0), args=args, train_dataset=Dataset.from_dict(ROWS),
                                processing_class=tokenizer, peft_config=lora)
    assert trainer.ref_model is None
    batch = next(iter(trainer.get_train_dataloader()))
    policy = trainer.model
    with policy.disable_adapter():  # the base: what TRL's reference is for a new adapter
        base = summed_logps(policy, batch)
    chosen, rejected = summed_logps(policy, batch)
    if reference == "model":
        chosen, rejected = chosen - base[0], rejected - base[1]
    h = BETA * (chosen - rejected)
    loss = trainer.compute_loss(policy, batch)
    assert abs(loss.item() - expected_loss("corrected_dpo", h, batch, args).item()) < 1e-6


class RecordingTrainer(HetprefDPOTrainer):
    """Records, at every compute_loss, the carried columns and the loss."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        self.seen.append(({k: inputs[k] for k in ("pair_id", "annotator_id", "label_expert", "variance")},
                          loss.detach().item()))
        return loss


def test_two_real_training_steps_keep_the_annotator_columns(tokenizer, tmp_path):
    policy = tiny_llama(tokenizer, seed=0)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    args = config(tmp_path, hetpref_loss="consistent", reference="uniform", per_device_train_batch_size=2,
                  per_device_eval_batch_size=2, max_steps=2, learning_rate=1e-2, logging_steps=1)
    trainer = RecordingTrainer(policy, args=args, train_dataset=Dataset.from_dict(ROWS),
                               eval_dataset=Dataset.from_dict(ROWS), processing_class=tokenizer)
    trainer.seen = []
    assert math.isfinite(trainer.train().training_loss)
    assert len(trainer.seen) == 2
    assert math.isfinite(trainer.evaluate()["eval_loss"])  # evaluation goes through compute_loss too
    assert len(trainer.seen) == 4
    by_pair = {p: i for i, p in enumerate(ROWS["pair_id"])}
    seen_pairs = []
    for columns, loss in trainer.seen:
        assert math.isfinite(loss)
        rows = [by_pair[p] for p in columns["pair_id"]]  # each carried column stays aligned with its pair
        assert columns["annotator_id"] == [ROWS["annotator_id"][i] for i in rows]
        assert columns["label_expert"].tolist() == [ROWS["label_expert"][i] for i in rows]
        assert columns["variance"].tolist() == pytest.approx([ROWS["variance"][i] for i in rows])
        seen_pairs += columns["pair_id"]
    assert sorted(seen_pairs) == sorted(ROWS["pair_id"] * 2)  # one training epoch, one evaluation
    assert "hetpref/unanimous_share" in trainer.state.log_history[0]
    assert any(not torch.equal(before[n], p) for n, p in policy.named_parameters())


@pytest.mark.parametrize("change, kw, message", [
    ({"variance": None}, {"hetpref_loss": "corrected_dpo"}, "needs the per-pair variance column 'variance'"),
    ({"variance": [0.1, float("nan"), 0.0, 0.1]}, {"hetpref_loss": "corrected_dpo"},
     "row 2, column 'variance': value nan; expected a finite variance"),
    ({"label_worker": [1, 1, 2, 1]}, {"hetpref_loss": "consistent"}, "row 3, column 'label_worker': value 2"),
    ({"label_worker": [-1, -1, 1, 1]}, {"hetpref_loss": "consistent"}, "none of the 4 pairs is unanimous"),
    ({}, {"hetpref_loss": "consistent", "n_types": 3}, "n_types = 3 but the dataset has 2 per-type label columns"),
    ({}, {"carry_columns": ["political_leaning"]}, "carry_columns ['political_leaning'] are not columns"),
])
def test_bad_columns_get_one_clear_error(tokenizer, tmp_path, change, kw, message):
    rows = {k: v for k, v in (ROWS | change).items() if v is not None}
    with pytest.raises(ValueError, match="train_dataset: ") as err:
        HetprefDPOTrainer(tiny_llama(tokenizer, seed=0), args=config(tmp_path, **kw),
                          train_dataset=Dataset.from_dict(rows), processing_class=tokenizer)
    assert message in str(err.value)


@pytest.mark.parametrize("kw, message", [
    ({"hetpref_loss": "ipo"}, "hetpref_loss = 'ipo'; expected one of 'dpo', 'consistent', 'corrected_dpo'"),
    ({"loss_type": ["hinge"]}, "loss_type = ['hinge']: TRL's loss options do not apply"),
    ({"reference": "uniform", "precompute_ref_log_probs": True}, "'uniform' has no reference model"),
    ({"reference": "base"}, "reference = 'base'; expected one of 'model', 'uniform'"),
])
def test_bad_config_gets_one_clear_error(tmp_path, kw, message):
    with pytest.raises(ValueError) as err:
        config(tmp_path, **kw)
    assert message in str(err.value)


def test_the_uniform_reference_takes_no_reference_model(tokenizer, tmp_path):
    with pytest.raises(ValueError, match="reference='uniform' takes no ref_model"):
        HetprefDPOTrainer(tiny_llama(tokenizer, 0), ref_model=tiny_llama(tokenizer, 1),
                          args=config(tmp_path, reference="uniform"), train_dataset=Dataset.from_dict(ROWS),
                          processing_class=tokenizer)
