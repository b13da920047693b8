"""The TRL internals HetprefDPOTrainer relies on, checked against the installed trl so that an
upgrade that renames or reshapes them fails here, loudly, rather than silently training with TRL's
own loss, dropping the annotator columns or loading a reference model for the uniform reference.
Skipped when trl is not installed, except the check of the missing-extra message."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys

import pytest
import torch

try:
    import trl
except ImportError:
    trl = None

needs_trl = pytest.mark.skipif(trl is None, reason="trl is not installed (pip install hetpref[trl])")


def test_without_trl_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)  # makes `import trl` raise ImportError
    monkeypatch.delitem(sys.modules, "hetpref.integrations.trl", raising=False)
    import hetpref.integrations  # the package itself imports nothing heavy

    monkeypatch.delattr(hetpref.integrations, "trl", raising=False)  # set when another test imported it
    with pytest.raises(ImportError, match=r"pip install hetpref\[trl\]"):
        importlib.import_module("hetpref.integrations.trl")
    with pytest.raises(ImportError, match=r"pip install hetpref\[trl\]"):
        hetpref.integrations.HetprefDPOTrainer  # noqa: B018 (the lazy attribute imports the module)


# DPOTrainer / Trainer methods HetprefDPOTrainer overrides, with the parameters TRL calls them with
OVERRIDES = {
    "compute_loss": ["self", "model", "inputs", "return_outputs", "num_items_in_batch"],  # our loss
    "compute_ref_log_probs": ["self", "model", "inputs"],  # carried columns kept out of the reference's forward
    "_set_signature_columns_if_needed": ["self"],  # carried columns kept by the column removal
    "_precompute_ref_logps": ["self", "dataset", "name", "batch_size"],  # nothing to precompute when uniform
}


@needs_trl
@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_overrides_match_the_installed_dpo_trainer(name):
    from trl import DPOTrainer

    from hetpref.integrations.trl import HetprefDPOTrainer

    assert hasattr(DPOTrainer, name), f"trl.DPOTrainer has no {name} any more: HetprefDPOTrainer's override is dead"
    base = list(inspect.signature(getattr(DPOTrainer, name)).parameters)
    assert base == OVERRIDES[name], f"DPOTrainer.{name}{inspect.signature(getattr(DPOTrainer, name))} changed"
    assert list(inspect.signature(getattr(HetprefDPOTrainer, name)).parameters) == base
    assert getattr(HetprefDPOTrainer, name) is not getattr(DPOTrainer, name)


@needs_trl
def test_trl_still_calls_the_overrides_and_sets_what_we_read():
    from transformers import Trainer
    from trl import DPOTrainer

    init = inspect.getsource(DPOTrainer.__init__)
    # the uniform reference builds TRL with precompute_ref_log_probs=True: TRL's only path that loads no
    # reference model for a non-PEFT policy, then precomputes through the overridden method
    assert "is_peft_model(self.model) or (args.precompute_ref_log_probs and not self.is_fsdp_enabled)" in init
    assert "self.train_dataset = self._precompute_ref_logps(" in init
    for attribute in ("self.beta = args.beta", "self.precompute_ref_logps = args.precompute_ref_log_probs",
                      "self.aux_loss_enabled =", "self.router_aux_loss_coef =", "self._metrics =",
                      "add_fused_lm_head(self.model"):
        assert attribute in init, f"DPOTrainer.__init__ no longer sets {attribute!r}"
    # the column removal and the data loader read the signature columns and self.data_collator
    assert "self._set_signature_columns_if_needed()" in inspect.getsource(Trainer._remove_unused_columns)
    assert "self._signature_columns" in inspect.getsource(Trainer._remove_unused_columns)
    assert "data_collator = self.data_collator" in inspect.getsource(Trainer._get_dataloader)
    # evaluation reaches compute_loss through prediction_step; log averages self._metrics[mode]
    assert "self.compute_loss(" in inspect.getsource(DPOTrainer.prediction_step)
    assert "self._metrics[mode].items()" in inspect.getsource(DPOTrainer.log)
    # the keys our forward keeps out of the model's inputs are TRL's own
    from hetpref.integrations.trl import TRL_NON_MODEL_KEYS

    ref = inspect.getsource(DPOTrainer.compute_ref_log_probs)
    assert '_non_model_keys = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}' in ref
    assert set(TRL_NON_MODEL_KEYS) == {"completion_mask", "ref_chosen_logps", "ref_rejected_logps"}
    assert "self.ref_model is None and is_peft_model(self.model)" in ref  # the PEFT base as reference
    assert "ref_logps.chunk(2, dim=0)" in ref


@needs_trl
def test_dpo_config_fields_we_read_or_refuse():
    from trl import DPOConfig

    from hetpref.integrations.trl import HetprefDPOConfig

    defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
                for f in dataclasses.fields(DPOConfig)}
    expected = {"beta": 0.1, "loss_type": ["sigmoid"], "loss_weights": None, "ld_alpha": None,
                "f_divergence_type": "reverse_kl", "use_weighting": False, "label_smoothing": 0.0,
                "precompute_ref_log_probs": False, "sync_ref_model": False, "remove_unused_columns": True,
                "max_length": 1024, "truncation_mode": "keep_start"}
    for name, value in expected.items():
        assert name in defaults, f"DPOConfig has no field {name!r} any more"
        assert defaults[name] == value, f"DPOConfig.{name} defaults to {defaults[name]!r}, not {value!r}"
    ours = {f.name for f in dataclasses.fields(HetprefDPOConfig)} - set(defaults)
    assert ours == {"hetpref_loss", "reference", "n_types", "alpha", "variance_kind", "correction_clamp",
                    "correction_eps", "variance_column", "n_types_column", "label_prefix", "carry_columns"}


@needs_trl
def test_the_preference_collator_drops_unknown_keys_and_puts_chosen_first():
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from hetpref.integrations.trl import CarryColumnsCollator

    examples = [{"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [6], "annotator_id": "u1",
                 "label_expert": 1, "variance": 0.25},
                {"prompt_ids": [7, 8], "chosen_ids": [9], "rejected_ids": [10, 11], "annotator_id": "u2",
                 "label_expert": -1, "variance": 0.5}]
    batch = DataCollatorForPreference(pad_token_id=0)(examples)
    assert set(batch) == {"input_ids", "attention_mask", "completion_mask"}  # the annotator columns are gone
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5], [7, 8, 9, 0, 0], [1, 2, 3, 6, 0], [7, 8, 10, 11, 0]]
    assert batch["completion_mask"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 0]]
    with_refs = [dict(e, ref_chosen_logps=-1.0, ref_rejected_logps=-2.0) for e in examples]
    assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(DataCollatorForPreference(pad_token_id=0)(with_refs))
    carried = CarryColumnsCollator(DataCollatorForPreference(pad_token_id=0),
                                   ("annotator_id", "label_expert", "variance"))(examples)
    assert torch.equal(carried["input_ids"], batch["input_ids"])
    assert carried["annotator_id"] == ["u1", "u2"] and carried["label_expert"].tolist() == [1, -1]
    assert carried["variance"].tolist() == [0.25, 0.5]
    with pytest.raises(ValueError, match=r"the examples have no column\(s\) \['pair_id'\]"):
        CarryColumnsCollator(DataCollatorForPreference(pad_token_id=0), ("pair_id",))(examples)


@needs_trl
def test_the_fused_lm_head_gives_the_causal_response_token_logprobs():
    # compute_loss sums model(..., labels=labels, fused_lm_head=True).log_probs over the last T − 1
    # positions: position t must be log p(token t + 1 | tokens ≤ t), and 0 where the label is −100
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))
    input_ids = torch.randint(0, 40, (2, 7))
    completion = torch.tensor([[0, 0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
        add_fused_lm_head(model)
        out = model(input_ids=input_ids, labels=input_ids.masked_fill(completion == 0, -100), fused_lm_head=True)
    expected = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1) * completion[:, 1:]
    assert out.log_probs.shape == (2, 6)
    torch.testing.assert_close(out.log_probs, expected, atol=1e-5, rtol=1e-5)
