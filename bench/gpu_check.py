"""GPU check of the LM stage, one command, ≤ 8 minutes on one H100/H200, with only what the project ships.

Two parts, one JSON (``gpu_check.json``) and a printed summary:

1. **Correctness smoke** (the real trainer, ``hetpref.lm.train.train``, on CUDA in bf16 with SDPA):
   real HH-RLHF text (the harmless-base test split from ``../shared/data/hh-rlhf/``), a tiny BPE
   tokenizer trained on it, the paper's length-type relabelling (``unanimous``: BT on the summed
   reward), a tiny Llama-architecture reward model with LoRA trained for a few epochs, then evaluated
   against r̄'s order. Passes when the training loss falls (mean of the last tenth of the steps
   below the first tenth), every metric is finite and metrics.json / train_log.csv are written.
2. **Throughput** of the LoRA step at ~1 B parameters: a random-initialised Llama with
   Llama-3.2-1B's shape (hidden 2048, intermediate 8192, 16 layers, 32 heads, 8 KV heads,
   vocabulary 128,256, tied embeddings: 1.24 B parameters), bf16, SDPA attention, LoRA r 8 /
   alpha 32 on peft's default targets (q_proj, v_proj), running the trainer's own scoring
   (``hetpref.lm.train.PairScorer``: response-token log-probabilities, causal shift) and loss
   (``hetpref.losses.preference_loss``) on ``--seq-len``-token sequences, for the DPO objective and for
   the reward model. Batch sizes of ``--batch-pairs`` (a sweep) are tried; each reports step time,
   tokens/s, peak memory and MFU.

MFU counts model FLOPs against 790 TFLOP/s (H200/H100 dense bf16), per step of T tokens (all
positions, padding included — the sequences are full here):

    FLOPs = (4·P_mm + 6·P_lora + 6·L·S·d) · T
    P_mm   = parameters of every matrix product with the frozen base (attention and MLP projections,
             the LM head; not the embedding lookup). Forward 2·P_mm·T; backward 2·P_mm·T for the
             activation gradients only — LoRA freezes the base, so no weight gradients (full
             fine-tuning would be 6·P_mm·T);
    P_lora = LoRA parameters: forward, activation and weight gradients, 6·P_lora·T (0.1 % here);
    6·L·S·d = causal attention (QKᵀ and AV, 2·2·d per token pair, S/2 pairs on average per token,
             forward + 2× backward), L layers, width d, sequence length S.

The reward objective has no LM head in P_mm (a scalar head on the last token instead).

On the device machine (no ``../shared`` there: copy the HH-RLHF file into the repo first, in a
folder ignored by git, and carry it; peft, transformers, tokenizers and accelerate are on the image):

    mkdir -p .gpu_data && cp ../shared/data/hh-rlhf/harmless-base_test.jsonl.gz .gpu_data/ \\
      && echo /.gpu_data/ >> .git/info/exclude
    run(command="PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --out $OUT", carry=[".gpu_data"], timeout_s=540)

On CPU (tests): ``python bench/gpu_check.py --smoke`` (tiny shapes, float32, a few steps).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runs from a bare checkout (the device machine has no install)

from hetpref.lm.resources import lora_step_flops  # noqa: E402  (one FLOP count for MFU, GPU-hours and job limits)

PEAK_TFLOPS = 790.0  # dense bf16, H100 SXM / H200 (the reference)
HH_FILE = "harmless-base_test.jsonl.gz"
LLAMA_1B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True)
SMOKE_1B = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=512, tie_word_embeddings=True)


def find_hh_file(given: str | None) -> Path:
    cands = [Path(given)] if given else [ROOT / ".gpu_data" / HH_FILE, ROOT.parent / "shared" / "data" / "hh-rlhf" / HH_FILE,
                                         ROOT / "shared" / "data" / "hh-rlhf" / HH_FILE]
    for c in cands:
        if c.is_file():
            return c
    sys.exit(f"HH-RLHF file not found (looked in {', '.join(map(str, cands))}); pass --hh-file")


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- 1. correctness smoke


def correctness_smoke(hh_file: Path, device, work: Path, smoke: bool, log) -> dict:
    """The real trainer on real text (module docstring, part 1)."""
    import numpy as np

    from hetpref.lm.evaluate import evaluate_run
    from hetpref.lm.hh_rlhf import read_source
    from hetpref.lm.jsonl import read_jsonl
    from hetpref.lm.relabel import relabel, write_dataset
    from hetpref.lm.tokenization import (TINY_SPEC, count_pair_tokens, filter_max_length, load_tokenizer,
                                         tokenizer_training_texts, train_tiny_tokenizer)
    from hetpref.lm.train import LMTrainConfig, train

    t0 = time.perf_counter()
    tables, _ = read_source({("harmless-base", "test"): hh_file}, manifest_dir=None)
    table = tables["test"]
    n_train, n_test = (96, 48) if smoke else (1200, 400)
    texts = tokenizer_training_texts(table.take(np.arange(min(len(table), n_train + n_test))), 20000)
    train_tiny_tokenizer(texts, work / "tokenizer", 400 if smoke else 2000)
    tok = load_tokenizer(TINY_SPEC, work / "tokenizer")
    table = filter_max_length(count_pair_tokens(tok, table), 512)
    train_t, test_t = table.take(np.arange(0, n_train)), table.take(np.arange(n_train, min(len(table), n_train + n_test)))
    for name, kind, tb in (("train", "unanimous", train_t), ("test", "test", test_t)):
        write_dataset(work / f"{name}.jsonl", relabel(kind, tb, 0), tb)
    records, test = read_jsonl(work / "train.jsonl"), read_jsonl(work / "test.jsonl")
    tiny = dict(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64) if smoke else \
        dict(hidden_size=128, num_layers=2, num_heads=4, intermediate_size=256)
    cfg = LMTrainConfig(lr=3e-3, batch_size=4 if smoke else 8, epochs=2 if smoke else 3, checkpoint_every=0,
                        log_every=5, lora_dropout=0.0)
    out = work / "run"
    t1 = time.perf_counter()
    res = train("reward", "unanimous", records, tok, TINY_SPEC, cfg, seed=0, out_dir=out, device=device,
                tiny_config=tiny, tokenizer_dir=work / "tokenizer", progress=False)
    train_s = time.perf_counter() - t1
    metrics, _ = evaluate_run(out / "adapter", tok, test, "reward", device=device)
    losses = res.metrics["loss_history"]
    k = max(1, len(losses) // 10)
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    written = {name: (out / name).is_file() for name in ("metrics.json", "provenance.json", "train_log.csv")}
    ok = last < first and all(map(math.isfinite, losses)) and all(written.values())
    report = {"passed": bool(ok), "pairs": len(records), "test_pairs": len(test), "steps": res.metrics["steps"],
              "loss_first_tenth": first, "loss_last_tenth": last, "test_agreement": metrics["agreement"],
              "files_written": written, "train_seconds": train_s, "seconds": time.perf_counter() - t0,
              "device": res.provenance.get("device"), "mixed_precision": res.provenance.get("mixed_precision"),
              "attn_implementation": res.provenance.get("attn_implementation"),
              "tokens_per_second": res.provenance.get("tokens_per_second")}
    log(f"smoke: {report['pairs']} real pairs, {report['steps']} steps, loss {first:.4f} → {last:.4f}, "
        f"test agreement {metrics['agreement']:.3f}, {'PASS' if ok else 'FAIL'} ({report['seconds']:.0f} s)")
    return report


# ----------------------------------------------------------------------------- 2. throughput


def build_1b(shape: dict, device, dtype, kind: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, LlamaConfig

    config = LlamaConfig(max_position_embeddings=2048, use_cache=False, pad_token_id=0, **shape)
    if kind == "reward":
        config.num_labels = 1
    cls = AutoModelForCausalLM if kind == "causal_lm" else AutoModelForSequenceClassification
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bf16 on the GPU directly: no float32 copy, no CPU init
    try:
        with torch.device(device):
            model = cls.from_config(config, attn_implementation="sdpa")
    finally:
        torch.set_default_dtype(default)
    return model


def throughput(shape: dict, kind: str, batch_pairs: list[int], seq_len: int, steps: int, warmup: int,
               device, dtype, log) -> dict:
    import torch

    from hetpref.lm.models import add_lora
    from hetpref.lm.train import PairScorer
    from hetpref.losses import preference_loss

    t0 = time.perf_counter()
    model = add_lora(build_1b(shape, device, dtype, kind), r=8, alpha=32, dropout=0.1, kind=kind)
    model.train()
    objective = "dpo" if kind == "causal_lm" else "reward"
    scorer = PairScorer(model, objective)  # the module the trainer trains: same scoring, same pooling
    n_params = sum(p.numel() for p in model.parameters())
    inner = model.get_base_model()
    p_embed = inner.get_input_embeddings().weight.numel()
    p_lora = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and "lora_" in n)
    p_head = shape["vocab_size"] * shape["hidden_size"] if kind == "causal_lm" else shape["hidden_size"]
    # matmul parameters: every 2-D weight of the layers (tied head counted once, as its product), no embedding
    p_layers = sum(p.numel() for n, p in inner.named_parameters() if p.dim() == 2 and "embed_tokens" not in n
                   and "score" not in n and "lm_head" not in n and "lora_" not in n)
    p_mm = p_layers + p_head
    res = {"objective": objective, "parameters": n_params, "embedding_parameters": p_embed, "matmul_parameters": p_mm,
           "lora_parameters": p_lora, "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
           "build_seconds": time.perf_counter() - t0, "seq_len": seq_len, "runs": []}
    log(f"{objective}: {n_params / 1e9:.3f} B parameters ({p_mm / 1e9:.3f} B in matmuls), "
        f"{res['trainable'] / 1e6:.2f} M trainable, built in {res['build_seconds']:.1f} s")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-5, weight_decay=0.001)
    g = torch.Generator(device="cpu").manual_seed(0)
    for b in batch_pairs:
        try:
            input_ids = torch.randint(1, shape["vocab_size"], (2 * b, seq_len), generator=g).to(device)
            attention_mask = torch.ones_like(input_ids)
            response_mask = torch.zeros_like(input_ids, dtype=torch.bool)
            response_mask[:, seq_len // 4:] = True  # a quarter prompt, three quarters response

            def step():
                s = scorer(input_ids, attention_mask, response_mask)
                loss = preference_loss("dpo" if objective == "dpo" else "bt_reward", s[:b] - s[b:]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return loss

            for _ in range(warmup):
                step()
            sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t1 = time.perf_counter()
            for _ in range(steps):
                loss = step()
            sync(device)
            dt = (time.perf_counter() - t1) / steps
        except torch.OutOfMemoryError:
            log(f"  batch {b} pairs: out of memory")
            res["runs"].append({"batch_pairs": b, "oom": True})
            torch.cuda.empty_cache()
            break
        tokens = 2 * b * seq_len
        flops = lora_step_flops(p_mm, p_lora, shape["num_hidden_layers"], shape["hidden_size"], seq_len, tokens)
        run = {"batch_pairs": b, "tokens_per_step": tokens, "step_seconds": dt, "tokens_per_second": tokens / dt,
               "model_tflops": flops / dt / 1e12, "mfu": flops / dt / (PEAK_TFLOPS * 1e12), "loss": loss.item(),
               "peak_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None}
        res["runs"].append(run)
        log(f"  batch {b} pairs ({tokens} tokens): {dt * 1e3:.1f} ms/step, {tokens / dt:,.0f} tokens/s, "
            f"{run['model_tflops']:.0f} TFLOP/s, MFU {100 * run['mfu']:.1f} %"
            + (f", peak {run['peak_memory_gib']:.1f} GiB" if run["peak_memory_gib"] is not None else ""))
    ok = [r for r in res["runs"] if not r.get("oom")]
    res["best"] = max(ok, key=lambda r: r["mfu"]) if ok else None
    del model, scorer, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hh-file", default=None, help=f"path of {HH_FILE} (default: .gpu_data/ or ../shared/data/hh-rlhf/)")
    ap.add_argument("--seq-len", type=int, default=512, help="tokens per sequence (the paper's cap)")
    ap.add_argument("--batch-pairs", type=int, nargs="+", default=[4, 8, 16], help="pairs per step to try")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per batch size")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--skip-smoke", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on CPU in float32 (for tests)")
    ap.add_argument("--out", default=None, help="folder for gpu_check.json")
    args = ap.parse_args(argv)

    import torch

    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", flush=True)

    if args.smoke:
        device, dtype, shape = torch.device("cpu"), torch.float32, SMOKE_1B
        args.seq_len, args.steps, args.warmup, args.batch_pairs = 32, 2, 1, [1, 2]
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --smoke on CPU")
        device, dtype, shape = torch.device("cuda"), torch.bfloat16, LLAMA_1B
        torch.backends.cuda.matmul.allow_tf32 = True
    report = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__,
              "dtype": str(dtype), "peak_tflops_reference": PEAK_TFLOPS, "shape": shape,
              "flop_formula": "(4*P_mm + 6*P_lora + 6*L*S*d) * tokens per LoRA step; full fine-tuning would be 6*P_mm"}
    try:
        import transformers
        import peft
        report["versions"] = {"transformers": transformers.__version__, "peft": peft.__version__}
    except ImportError as e:
        sys.exit(f"gpu_check needs transformers and peft: {e}")
    if not args.skip_smoke:
        with tempfile.TemporaryDirectory(prefix="hetpref_gpu_smoke_") as work:
            report["smoke"] = correctness_smoke(find_hh_file(args.hh_file), device, Path(work), args.smoke, log)
    report["throughput"] = {kind: throughput(shape, kind, args.batch_pairs, args.seq_len, args.steps, args.warmup,
                                             device, dtype, log) for kind in ("causal_lm", "reward")}
    report["seconds"] = time.perf_counter() - t_start
    best = report["throughput"]["causal_lm"]["best"]
    if best:
        log(f"LoRA DPO at ~1 B: best MFU {100 * best['mfu']:.1f} % at {best['batch_pairs']} pairs × {args.seq_len} "
            f"tokens ({best['tokens_per_second']:,.0f} tokens/s; target ≥ 30 %)")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "throughput"} |
                     {"best": {k: report["throughput"][k]["best"] for k in report["throughput"]}}))
    return report


if __name__ == "__main__":
    main()
