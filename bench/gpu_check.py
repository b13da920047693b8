"""GPU check of the LM stage, one command, ≤ 8 minutes on one H100/H200, with only what the project ships.

Two parts, one JSON (``gpu_check.json``) and a printed summary:

1. **Correctness smoke** (the real trainer, ``hetpref.lm.training.train.train``, on CUDA in bf16 with SDPA):
   real HH-RLHF text (the harmless-base test split: ``--hh-file`` or ``$HETPREF_HH_RLHF_FILE``), a tiny BPE
   tokenizer trained on it, the paper's length-type relabelling (``unanimous``: BT on the summed
   reward), a tiny Llama-architecture reward model with LoRA trained for a few epochs, then evaluated
   against r̄'s order. Passes when the training loss falls (mean of the last tenth of the steps
   below the first tenth), every metric is finite and metrics.json / train_log.csv are written.
2. **Throughput** of the LoRA step at ~1 B parameters: a random-initialised Llama with
   Llama-3.2-1B's shape (hidden 2048, intermediate 8192, 16 layers, 32 heads, 8 KV heads,
   vocabulary 128,256, tied embeddings: 1.24 B parameters), bf16, SDPA attention, LoRA r 8 /
   alpha 32 on peft's default targets (q_proj, v_proj), running the trainer's own scoring
   (``hetpref.lm.training.scoring.PairScorer``: response-token log-probabilities, causal shift) and loss
   (``hetpref.losses.preference_loss``) on ``--seq-len``-token sequences, for the DPO objective and for
   the reward model. First the paper's own step shape (``--paper-step``: 2 pairs of ~220-token
   sequences, the mean padded length of a batch of 2 HH-RLHF pairs, bench/gpu_hours.py), then the
   batch sizes of ``--batch-pairs`` (a sweep) at ``--seq-len``; each reports step time, tokens/s,
   peak memory and MFU. The paper's runs go at the paper-step speed, not at the sweep's best.

The parts are independent: a failing smoke (or objective) is recorded in the JSON with its
traceback and the others still run; the exit status is 1 when any part failed.

MFU counts model FLOPs per step of T tokens (all positions, padding included — the sequences are
full here), reported twice, labelled: against the dense bf16 spec of the H100 SXM / H200,
989 TFLOP/s (``mfu_vs_spec_989``, the usual definition), and against the measured bf16 matmul
peak measured on an H200, ~790 TFLOP/s for an 8192³ product (``mfu_vs_matmul_790``):

    FLOPs = (4·P_mm + 6·P_lora + 6·L·S·d) · T
    P_mm   = parameters of every matrix product with the frozen base (attention and MLP projections,
             the LM head; not the embedding lookup). Forward 2·P_mm·T; backward 2·P_mm·T for the
             activation gradients only — LoRA freezes the base, so no weight gradients (full
             fine-tuning would be 6·P_mm·T);
    P_lora = LoRA parameters: forward, activation and weight gradients, 6·P_lora·T (0.1 % here);
    6·L·S·d = causal attention (QKᵀ and AV, 2·2·d per token pair, S/2 pairs on average per token,
             forward + 2× backward), L layers, width d, sequence length S.

The reward objective has no LM head in P_mm (a scalar head on the last token instead).

On an air-gapped GPU node whose image holds other versions: the project's pinned transformers /
peft / accelerate / tokenizers and the HH-RLHF file travel with the checkout (gitignored ``.whl/``
and ``.gpu_data/``, ~19 MB together): ``bench/gpu_check.sh`` (its header says how).

On CPU (tests): ``python bench/gpu_check.py --smoke`` (tiny shapes, float32, a few steps).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runs from a bare checkout (the GPU node needs no install)

from hetpref.lm.resources import lora_step_flops  # noqa: E402  (one FLOP count for MFU, GPU-hours and job limits)

SPEC_TFLOPS = 989.0  # dense bf16 (no sparsity) of the H100 SXM and the H200: the data-sheet figure
MATMUL_PEAK_TFLOPS = 790.0  # measured on an H200: 8192³ bf16 torch.matmul, 769–798 TFLOP/s
PAPER_STEP = (2, 220)  # pairs per step (lm.train.batch_size) × mean padded tokens per sequence (gpu_hours.py)
HH_FILE = "harmless-base_test.jsonl.gz"
LLAMA_1B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True)
SMOKE_1B = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=512, tie_word_embeddings=True)


def find_hh_file(given: str | None) -> Path:
    env = os.environ.get("HETPREF_HH_RLHF_FILE")  # the one setting the tests use too
    cands = [Path(given)] if given else [Path(env)] * bool(env) + [ROOT / ".gpu_data" / HH_FILE]
    for c in cands:
        if c.is_file():
            return c
    raise FileNotFoundError(f"HH-RLHF file not found (looked in {', '.join(map(str, cands))}); "
                            "pass --hh-file or set HETPREF_HH_RLHF_FILE")


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- 1. correctness smoke


def correctness_smoke(hh_file: Path, device, work: Path, smoke: bool, log) -> dict:
    """The real trainer on real text (module docstring, part 1)."""
    import numpy as np

    from hetpref.lm.data.hh_rlhf import read_source
    from hetpref.lm.data.jsonl import read_jsonl
    from hetpref.lm.data.relabel import relabel, write_dataset
    from hetpref.lm.data.tokenization import (
        TINY_SPEC,
        count_pair_tokens,
        filter_max_length,
        load_tokenizer,
        tokenizer_training_texts,
        train_tiny_tokenizer,
    )
    from hetpref.lm.evaluation.evaluate import evaluate_run
    from hetpref.lm.training.config import LMTrainConfig
    from hetpref.lm.training.run import LMRun
    from hetpref.lm.training.train import train

    t0 = time.perf_counter()
    tables, _ = read_source({("harmless-base", "test"): hh_file}, manifest_dir=None)
    table = tables["test"]
    n_train, n_test = (96, 48) if smoke else (1200, 400)
    texts = tokenizer_training_texts(table.take(np.arange(min(len(table), n_train + n_test))), 20000)
    train_tiny_tokenizer(texts, work / "tokenizer", 400 if smoke else 2000)
    tok = load_tokenizer(TINY_SPEC, work / "tokenizer")
    table = filter_max_length(count_pair_tokens(tok, table), 512)
    train_t = table.take(np.arange(0, n_train))
    test_t = table.take(np.arange(n_train, min(len(table), n_train + n_test)))
    for name, kind, tb in (("train", "unanimous", train_t), ("test", "test", test_t)):
        write_dataset(work / f"{name}.jsonl", relabel(kind, tb, 0), tb)
    records, test = read_jsonl(work / "train.jsonl"), read_jsonl(work / "test.jsonl")
    tiny = dict(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64) if smoke else \
        dict(hidden_size=128, num_layers=2, num_heads=4, intermediate_size=256)
    cfg = LMTrainConfig(lr=3e-3, batch_size=4 if smoke else 8, epochs=2 if smoke else 3, checkpoint_every=0,
                        log_every=5, lora_dropout=0.0)
    out = work / "run"
    t1 = time.perf_counter()
    run = LMRun(objective="reward", dataset="unanimous", seed=0, model=TINY_SPEC, train=cfg, out_dir=str(out),
                tiny=tiny, tokenizer_dir=str(work / "tokenizer"), device=device)
    res = train(run, records, tok, progress=False)
    train_s = time.perf_counter() - t1
    metrics, _ = evaluate_run(out / "adapter", tok, test, device=device)
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


def mfus(flops_per_second: float) -> dict:
    """MFU against both references, labelled (module docstring)."""
    return {"mfu_vs_spec_989": flops_per_second / (SPEC_TFLOPS * 1e12),
            "mfu_vs_matmul_790": flops_per_second / (MATMUL_PEAK_TFLOPS * 1e12)}


def train_step(scorer, opt, loss_name: str, b: int, input_ids, attention_mask, response_mask):
    """One LoRA step on a batch of b pairs (rows 0..b−1 chosen, b..2b−1 rejected), as the trainer takes."""
    from hetpref.losses import preference_loss

    s = scorer(input_ids, attention_mask, response_mask)
    loss = preference_loss(loss_name, s[:b] - s[b:]).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def throughput(shape: dict, kind: str, step_shapes: list[tuple[int, int, str]], steps: int, warmup: int,
               device, dtype, log) -> dict:
    """LoRA training steps of the ~1 B model at each ``(pairs, tokens per sequence, label)`` of
    ``step_shapes``; the first labelled ``paper_step`` is also reported as ``paper_step``."""
    import torch

    from hetpref.lm.models import add_lora
    from hetpref.lm.training.scoring import PairScorer

    t0 = time.perf_counter()
    model = add_lora(build_1b(shape, device, dtype, kind), r=8, alpha=32, dropout=0.1, kind=kind)
    model.train()
    from hetpref.lm.training.config import loss_for

    objective = "dpo" if kind == "causal_lm" else "reward"  # the workflow objective this kind trains (reported)
    loss_name = loss_for(kind, "anonymous")[0]  # the loss of one BT label per pair: DPO or the BT reward loss
    scorer = PairScorer(model, kind)  # the module the trainer trains: same scoring, same pooling
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
           "build_seconds": time.perf_counter() - t0, "runs": []}
    log(f"{objective}: {n_params / 1e9:.3f} B parameters ({p_mm / 1e9:.3f} B in matmuls), "
        f"{res['trainable'] / 1e6:.2f} M trainable, built in {res['build_seconds']:.1f} s")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-5, weight_decay=0.001)
    g = torch.Generator(device="cpu").manual_seed(0)
    for b, seq_len, label in step_shapes:
        try:
            input_ids = torch.randint(1, shape["vocab_size"], (2 * b, seq_len), generator=g).to(device)
            attention_mask = torch.ones_like(input_ids)
            response_mask = torch.zeros_like(input_ids, dtype=torch.bool)
            response_mask[:, seq_len // 4:] = True  # a quarter prompt, three quarters response

            batch = (b, input_ids, attention_mask, response_mask)
            for _ in range(warmup):
                train_step(scorer, opt, loss_name, *batch)
            sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t1 = time.perf_counter()
            for _ in range(steps):
                loss = train_step(scorer, opt, loss_name, *batch)
            sync(device)
            dt = (time.perf_counter() - t1) / steps
        except torch.OutOfMemoryError:
            log(f"  {label}: {b} pairs × {seq_len} tokens: out of memory (larger shapes skipped)")
            res["runs"].append({"label": label, "batch_pairs": b, "seq_len": seq_len, "oom": True})
            torch.cuda.empty_cache()
            break
        tokens = 2 * b * seq_len
        flops = lora_step_flops(p_mm, p_lora, shape["num_hidden_layers"], shape["hidden_size"], seq_len, tokens)
        run = {"label": label, "batch_pairs": b, "seq_len": seq_len, "tokens_per_step": tokens, "step_seconds": dt,
               "tokens_per_second": tokens / dt, "model_tflops": flops / dt / 1e12, **mfus(flops / dt),
               "loss": loss.item(),
               "peak_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None}
        res["runs"].append(run)
        log(f"  {label}: {b} pairs × {seq_len} tokens ({tokens} a step): {dt * 1e3:.1f} ms/step, "
            f"{tokens / dt:,.0f} tokens/s, {run['model_tflops']:.0f} TFLOP/s, MFU {100 * run['mfu_vs_spec_989']:.1f} % "
            f"of the 989 TFLOP/s spec, {100 * run['mfu_vs_matmul_790']:.1f} % of the 790 measured matmul peak"
            + (f", peak {run['peak_memory_gib']:.1f} GiB" if run["peak_memory_gib"] is not None else ""))
    ok = [r for r in res["runs"] if not r.get("oom")]
    res["best"] = max(ok, key=lambda r: r["mfu_vs_spec_989"]) if ok else None
    res["paper_step"] = next((r for r in ok if r["label"] == "paper_step"), None)
    model = scorer = opt = None  # free the GPU memory before the next objective
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return res


def guarded(name: str, fn, log) -> dict:
    """``fn()``, or the failure with its traceback (recorded, printed; the other parts still run)."""
    import traceback

    try:
        return fn()
    except Exception as e:  # noqa: BLE001 — reported in the JSON and the exit status, never swallowed
        tb = traceback.format_exc()
        log(f"{name} FAILED: {type(e).__name__}: {e}\n{tb}")
        return {"failed": True, "error": f"{type(e).__name__}: {e}", "traceback": tb}


def parse_shape(text: str) -> tuple[int, int]:
    pairs, _, tokens = text.partition("x")
    return int(pairs), int(tokens)


def versions() -> dict:
    """The LM stack's versions and where each was imported from (carried wheels or the image)."""
    import importlib

    out = {}
    for name in ("torch", "transformers", "peft", "accelerate", "tokenizers", "huggingface_hub", "safetensors"):
        try:
            mod = importlib.import_module(name)
            out[name] = {"version": getattr(mod, "__version__", None), "from": str(Path(mod.__file__).parent.parent)}
        except ImportError as e:
            out[name] = {"version": None, "error": str(e)}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hh-file", default=None,
                    help=f"path of {HH_FILE} (default: $HETPREF_HH_RLHF_FILE, else .gpu_data/)")
    ap.add_argument("--seq-len", type=int, default=512, help="tokens per sequence of the sweep (the paper's cap)")
    ap.add_argument("--batch-pairs", type=int, nargs="+", default=[4, 8, 16], help="pairs per step of the sweep")
    ap.add_argument("--paper-step", type=parse_shape, default=PAPER_STEP,
                    help="the paper's step: PAIRSxTOKENS (default %(default)s: 2 pairs, ~220 padded tokens a sequence)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per shape")
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
        args.paper_step = (args.paper_step[0], 24)
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --smoke on CPU")
        device, dtype, shape = torch.device("cuda"), torch.bfloat16, LLAMA_1B
        torch.backends.cuda.matmul.allow_tf32 = True
    # the paper's step first: an out-of-memory error at a large sweep point cannot skip it
    step_shapes = [(*args.paper_step, "paper_step")] + [(b, args.seq_len, "sweep") for b in args.batch_pairs]
    report = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__,
              "dtype": str(dtype), "peak_tflops_reference": {"spec_dense_bf16": SPEC_TFLOPS,
                                                             "measured_matmul": MATMUL_PEAK_TFLOPS},
              "shape": shape, "step_shapes": step_shapes, "versions": versions(),
              "flop_formula": "(4*P_mm + 6*P_lora + 6*L*S*d) * tokens per LoRA step; full fine-tuning would be 6*P_mm"}
    log("versions: " + ", ".join(f"{k} {v.get('version')}" for k, v in report["versions"].items()))
    if not args.skip_smoke:
        def smoke():
            with tempfile.TemporaryDirectory(prefix="hetpref_gpu_smoke_") as work:
                return correctness_smoke(find_hh_file(args.hh_file), device, Path(work), args.smoke, log)

        report["smoke"] = guarded("smoke", smoke, log)
    report["throughput"] = {
        kind: guarded(f"throughput {kind}", lambda kind=kind: throughput(
            shape, kind, step_shapes, args.steps, args.warmup, device, dtype, log), log)
        for kind in ("causal_lm", "reward")}
    failed = [k for k in ("smoke",) if report.get(k, {}).get("failed") or report.get(k, {}).get("passed") is False]
    failed += [f"throughput.{k}" for k, v in report["throughput"].items() if v.get("failed")]
    report["failed_parts"] = failed
    report["seconds"] = time.perf_counter() - t_start
    for t in report["throughput"].values():
        for which in ("paper_step", "best"):
            r = t.get(which)
            if r:
                log(f"LoRA {t['objective']} at ~1 B, {which}: {r['batch_pairs']} pairs × {r['seq_len']} tokens, "
                    f"MFU {100 * r['mfu_vs_spec_989']:.1f} % (989 spec) / {100 * r['mfu_vs_matmul_790']:.1f} % "
                    f"(790 matmul), {r['tokens_per_second']:,.0f} tokens/s")
    if failed:
        log(f"FAILED parts: {', '.join(failed)}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("throughput", "smoke", "versions")} |
                     {"summary": {k: {w: report["throughput"][k].get(w) for w in ("paper_step", "best")}
                                  for k in report["throughput"]}}))
    return report


if __name__ == "__main__":
    sys.exit(1 if main()["failed_parts"] else 0)
