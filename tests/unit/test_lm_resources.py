"""The LM stage's resource and time model (hetpref.lm.resources) and the resumable indirect
relabelling (hetpref.lm.evaluation.indirect.reward_differences)."""
import json
import math

import pytest

import hetpref.lm.resources as R
from hetpref.lm.data.hh_rlhf import HH_RLHF_PAIRS
from hetpref.lm.evaluation.indirect import reward_differences


def _llama(tied, kv_heads=2, vocab=300):
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=kv_heads, tie_word_embeddings=tied)
    return cfg, LlamaForCausalLM(cfg), LlamaForSequenceClassification(LlamaConfig(**{**cfg.to_dict(), "num_labels": 1}))


@pytest.mark.parametrize("tied, kv_heads", [(False, 2), (True, 4)])
def test_parameter_counts_equal_real_llama_models(tied, kv_heads):
    import torch

    cfg, causal, reward = _llama(tied, kv_heads)
    shape = R.ModelShape.from_config(cfg.to_dict())
    assert shape.params == sum(p.numel() for p in causal.parameters())
    assert shape.base_params("reward") == sum(p.numel() for p in reward.parameters())
    # P_mm: every Linear of the blocks, plus the LM head of a policy (no embedding lookup)
    blocks = sum(m.weight.numel() for n, m in causal.named_modules()
                 if isinstance(m, torch.nn.Linear) and "layers" in n)
    assert shape.matmul_params("causal_lm") == blocks + shape.vocab * shape.width
    assert shape.matmul_params("reward") == blocks


def test_lora_parameters_equal_peft_on_q_and_v():
    from hetpref.lm.models import add_lora

    cfg, causal, _ = _llama(False)
    lora = add_lora(causal, r=8)
    assert R.ModelShape.from_config(cfg.to_dict()).lora_params(8) == sum(
        p.numel() for p in lora.parameters() if p.requires_grad)


def test_llama3_8b_is_the_published_size():
    assert R.LLAMA3_8B.params == 8_030_261_248  # Meta-Llama-3-8B's safetensors
    assert R.model_shape("meta-llama/Meta-Llama-3-8B") is R.LLAMA3_8B


def test_model_shape_reads_a_local_config(tmp_path):
    cfg, _, _ = _llama(False)
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    assert R.model_shape(str(tmp_path)) == R.ModelShape.from_config(cfg.to_dict())
    with pytest.warns(UserWarning, match="Llama-3-8B"):
        assert R.model_shape(str(tmp_path / "missing")) is R.LLAMA3_8B


def test_flop_count_by_hand():
    assert R.lora_step_flops(10, 2, 3, 4, 5, 7) == (4 * 10 + 6 * 2 + 6 * 3 * 5 * 4) * 7
    assert R.forward_flops(10, 3, 4, 5, 7) == (2 * 10 + 2 * 3 * 5 * 4) * 7


def test_train_job_by_hand():
    """Llama-3-8B DPO, the paper's batch on one A100: the FLOP count, wall time and memory
    recomputed here from the stated constants."""
    e = R.train_job(R.LLAMA3_8B, "causal_lm", pairs=160_800, batch_size=2)
    seq = 0.43 * 512
    tokens = 80_400 * 2 * 2 * seq
    flops = (4 * 7_504_658_432 + 6 * 3_407_872 + 6 * 32 * seq * 4096) * tokens
    seconds = flops / (312e12 * 0.25)
    assert e.details["flops"] == pytest.approx(flops)
    assert e.runtime_min == math.ceil(seconds * 1.5 / 60 + 10)
    assert e.compute_hours == pytest.approx(seconds / 3600, abs=0.01)
    assert e.mem_mb == math.ceil((2 * 8_030_261_248 / 1e9 + 4 + 160_800 * 32e3 / 1e9) * 1.2) * 1000
    assert e.threads == 8 and e.gpus == 1
    assert 30 < e.gpu_mem_gb < 40  # fits an 80 GB A100 / H100, tight on a 40 GB A100


def test_scaling_of_the_estimates():
    base = dict(shape=R.LLAMA3_8B, kind="causal_lm", pairs=100_000, batch_size=4)
    one, two = R.train_job(**base), R.train_job(**base, gpus=2)
    assert two.compute_hours < one.compute_hours  # same pairs, micro-batches of 2 pad less than of 4
    assert two.runtime_min < one.runtime_min and two.threads == 16 and two.mem_mb > 1.9 * one.mem_mb
    assert R.train_job(**base, gpu="H100").runtime_min < one.runtime_min / 2
    assert R.train_job(**base, gradient_checkpointing=True).gpu_mem_gb < one.gpu_mem_gb - 5
    assert R.train_job(**{**base, "kind": "reward"}).gpu_mem_gb < one.gpu_mem_gb  # no logits
    assert one.runtime(1) == one.runtime_min and one.runtime(3) == 3 * one.runtime_min
    three = R.score_job(R.LLAMA3_8B, "reward", 100_000, models=3)
    single = R.score_job(R.LLAMA3_8B, "reward", 100_000)
    assert three.compute_hours == pytest.approx(3 * single.compute_hours, rel=0.01)


def test_every_workflow_objective_has_an_estimate_and_dpo_base_pays_its_reference_forward():
    """The DPO arms (lm.dpo_variants) are jobs too: each objective the DAG can hold gets a training
    and a test-evaluation estimate, summed into its lm_train job; dpo_base adds the frozen base's
    forward, (2·P_mm + 2·L·S·d)·T, per step."""
    from hetpref.lm.names import OBJECTIVE_SPECS

    lm = {"model": "meta-llama/Meta-Llama-3-8B", "source": "download", "max_length": 512, "gpus_per_job": 1,
          "subsets": ["harmless-base"],
          "train": {"batch_size": 2, "gradient_accumulation_steps": 1, "epochs": 1, "gradient_checkpointing": False,
                    "lora_r": 8}}
    est = R.lm_job_estimates(lm)
    assert set(est["lm_train"]) == set(est["training"]) == set(est["evaluation"]) == set(OBJECTIVE_SPECS)
    dpo, base = est["training"]["dpo"], est["training"]["dpo_base"]
    seq, tokens = dpo.details["tokens"] / (dpo.details["steps"] * 2 * 2), dpo.details["tokens"]
    extra = R.forward_flops(R.LLAMA3_8B.matmul_params("causal_lm"), 32, 4096, seq, tokens)
    assert base.details["flops"] == pytest.approx(dpo.details["flops"] + extra)
    assert est["training"]["dpo_norm"].details["flops"] == dpo.details["flops"]
    evaluate = est["evaluation"]
    assert evaluate["dpo_base"].details["flops"] == pytest.approx(2 * evaluate["dpo"].details["flops"])
    # an lm_train job trains, then evaluates on the test split: the two runtimes and GPU-hours add up,
    # its memory covers both, and the evaluation loads the base again (one start-up more)
    for objective, job in est["lm_train"].items():
        t, e = est["training"][objective], evaluate[objective]
        assert job.runtime_min == t.runtime_min + e.runtime_min >= t.runtime_min + R.STARTUP_MIN
        assert job.compute_hours == pytest.approx(t.compute_hours + e.compute_hours, abs=0.011)
        assert (job.mem_mb, job.gpu_mem_gb, job.gpus) == (max(t.mem_mb, e.mem_mb), max(t.gpu_mem_gb, e.gpu_mem_gb),
                                                          t.gpus)


def test_padded_share_grows_with_the_batch():
    shares = [R.padded_share(b) for b in (1, 2, 3, 4, 8, 16, 17)]
    assert shares == sorted(shares) and shares[2] == R.PADDED_SHARE[4] and shares[-1] == 1.0


def test_paper_pairs_and_demo_pairs():
    lm = {"source": "download", "subsets": list(HH_RLHF_PAIRS["train"])}
    assert R.dataset_pairs(lm) == {"train": 160_800, "test": 8_552}
    assert R.dataset_pairs({"source": "demo", "subsets": ["a", "b"], "demo": {"train_pairs": 5, "test_pairs": 2}}) == \
        {"train": 10, "test": 4}


def test_batch_split_message_says_what_to_change():
    assert R.batch_split_problem(2, 1, 2) is None
    msg = R.batch_split_problem(2, 1, 4)
    assert "1 × 4 = 4" in msg and "lm.gpus_per_job to a divisor" in msg and "(1, 2)" in msg
    assert "multiple of 4" in msg
    assert "gradient_accumulation_steps to a divisor of 3" in R.batch_split_problem(3, 2, 1)


# ----------------------------------------------------------------------------- resumable indirect relabelling


def _records(n):
    return [{"id": f"p{i}", "chosen": f"c{i}", "rejected": f"r{i}"} for i in range(n)]


def _adapters(tmp_path, k=2):
    out = []
    for j in range(k):
        a = tmp_path / f"adapter{j}"
        a.mkdir()
        (a / "weights.bin").write_bytes(bytes([j]) * 16)
        out.append(a)
    return out


class Scorer:
    """load(adapter) → score(chunk): h = (adapter index + 1) · record index; counts loads and chunks,
    and raises after ``fail_after`` chunks (a job killed at its time limit)."""

    def __init__(self, fail_after=None):
        self.loads, self.chunks, self.fail_after = [], 0, fail_after

    def __call__(self, adapter):
        self.loads.append(adapter.name)
        k = int(adapter.name[-1]) + 1

        def score(chunk):
            if self.fail_after is not None and self.chunks >= self.fail_after:
                raise KeyboardInterrupt("time limit")
            self.chunks += 1
            return [k * int(r["id"][1:]) for r in chunk]
        return score


def test_reward_differences_resume_after_a_kill(tmp_path):
    records, adapters = _records(20), _adapters(tmp_path)
    expected = [[float(k * i) for i in range(20)] for k in (1, 2)]
    killed = Scorer(fail_after=4)  # 3 chunks per adapter: the kill falls in the second adapter's second chunk
    with pytest.raises(KeyboardInterrupt):
        reward_differences(adapters, records, tmp_path / "work", chunk_pairs=8, load=killed)
    rerun = Scorer()
    assert reward_differences(adapters, records, tmp_path / "work", chunk_pairs=8, load=rerun) == expected
    assert rerun.loads == ["adapter1"] and rerun.chunks == 2  # adapter0 entirely, and adapter1's first chunk, reused
    again = Scorer()
    assert reward_differences(adapters, records, tmp_path / "work", chunk_pairs=8, load=again) == expected
    assert again.loads == [] and again.chunks == 0
    fresh = Scorer()
    assert reward_differences(adapters, records, tmp_path / "fresh", chunk_pairs=8, load=fresh) == expected
    assert fresh.chunks == 6


def test_reward_differences_discard_chunks_of_another_adapter_or_data(tmp_path):
    records, adapters = _records(16), _adapters(tmp_path)
    reward_differences(adapters, records, tmp_path / "work", chunk_pairs=8, load=Scorer())
    (adapters[0] / "weights.bin").write_bytes(b"retrained")  # a retrained reward model
    changed = records[:8] + [{**r, "chosen": r["chosen"] + "!"} for r in records[8:]]  # other data in chunk 2
    s = Scorer()
    reward_differences(adapters, changed, tmp_path / "work", chunk_pairs=8, load=s)
    assert s.loads == ["adapter0", "adapter1"] and s.chunks == 2 + 1
    with pytest.raises(ValueError, match="multiple of batch_size"):
        reward_differences(adapters, records, tmp_path / "w2", chunk_pairs=12, load=Scorer())


def test_chunked_scores_equal_one_pass_with_the_real_model(tmp_path):
    """The real scorer (tiny reward model, LoRA adapter): chunked h equals evaluate_run's one pass."""
    import torch

    from hetpref.lm.data.tokenization import train_tiny_tokenizer
    from hetpref.lm.evaluation.evaluate import evaluate_run
    from hetpref.lm.models import add_lora, describe_base, load_base_model

    torch.set_num_threads(1)
    words = ["long", "short", "answer", "yes", "no", "maybe", "the", "a", "human", "assistant"]
    recs = [{"id": f"x{i}", "prompt": "\n\nHuman: hi\n\nAssistant:", "chosen": " " + " ".join(words[: 1 + i % 9]),
             "rejected": " " + " ".join(words[i % 5:]), "n_chosen": 1, "n_rejected": 1} for i in range(24)]
    tok_dir = tmp_path / "tok"
    tok = train_tiny_tokenizer([r["prompt"] + r["chosen"] for r in recs] * 3, tok_dir, vocab_size=300)
    model = add_lora(load_base_model("tiny", tok, "reward", tiny_config={"hidden_size": 32}), kind="reward")
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    (adapter / "base.json").write_text(json.dumps(describe_base("tiny", "reward", "float32", {"hidden_size": 32}, 0,
                                                                str(tok_dir))))
    _, rows = evaluate_run(adapter, tok, recs, device="cpu", max_length=512)
    chunked = reward_differences([adapter], recs, tmp_path / "work", tokenizer=tok, device="cpu", chunk_pairs=8)
    assert chunked == [[row["h"] for row in rows]]
    assert len(set(chunked[0])) > 1  # real, varying scores
