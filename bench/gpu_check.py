"""GPU check of the LM trainer's step (MATH.md §8 at the paper's layer shape), one command, ≤ 5 min.

1. Measures the bf16 matmul rate (8192³ products) — the ceiling every number is compared to.
2. Builds a random-initialised Llama with Llama-3-8B's layer shape (hidden 4096, intermediate
   14336, 32 heads, 8 KV heads, vocab 128256) but only ``--layers`` layers, in bf16, wraps it with
   LoRA (r 8, alpha 32, dropout 0.1; peft's default targets) and runs LoRA DPO steps with the
   library's own scoring (``hetpref.lm.train.sequence_scores``) and loss
   (``hetpref.losses.preference_loss('dpo')``) on batches of ``--batch-pairs`` pairs of
   ``--seq-len``-token sequences (chosen and rejected in one forward pass, as the trainer does).
3. Prints tokens/s, achieved TFLOP/s counted as 4 · P · tokens (P = parameters doing matmuls,
   the input embedding excluded — a lookup; LoRA freezes the base so its backward needs the
   activation gradients, 2PT, but no weight gradients: 4PT in all, attention's T² term left
   out) and the ratio of the measured step time to that floor at the measured matmul rate.

Run on the device machine (peft is not installed there; carry the venv's copy):
    run(command="python3 bench/gpu_check.py --layers 4 --out $OUT",
        carry=[".venv/lib/python3.11/site-packages/peft"], timeout_s=420)
On CPU (tests): ``python bench/gpu_check.py --smoke``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runs from a bare checkout (the device machine has no install)


def _import_peft():
    try:
        import peft  # noqa: F401
    except ImportError:
        # the carried venv copy: appended through a folder holding only peft, so the machine's own
        # torch / transformers keep precedence over the CPU venv's
        for cand in sorted((ROOT / ".venv" / "lib").glob("python*/site-packages/peft")):
            shim = Path(tempfile.mkdtemp(prefix="peft_shim_"))
            os.symlink(cand, shim / "peft")
            sys.path.append(str(shim))
            break
        import peft  # noqa: F401


def sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_tflops(device, dtype, n: int, repeats: int) -> float:
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e12


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=4, help="decoder layers (Llama-3-8B has 32)")
    ap.add_argument("--seq-len", type=int, default=512, help="tokens per sequence (the paper's cap)")
    ap.add_argument("--batch-pairs", type=int, default=2, help="pairs per step (paper: 2); 2× sequences")
    ap.add_argument("--steps", type=int, default=10, help="timed DPO steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--matmul-n", type=int, default=8192)
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on CPU in float32 (for tests)")
    ap.add_argument("--out", default=None, help="folder for gpu_check.json")
    args = ap.parse_args(argv)

    import torch

    _import_peft()
    from transformers import LlamaConfig, LlamaForCausalLM

    from hetpref.lm.models import add_lora
    from hetpref.lm.train import sequence_scores
    from hetpref.losses import preference_loss

    if args.smoke:
        device, dtype = torch.device("cpu"), torch.float32
        shape = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                     vocab_size=512)
        args.seq_len, args.steps, args.warmup, args.matmul_n, args.layers = 32, 2, 1, 256, min(args.layers, 2)
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --smoke on CPU")
        device, dtype = torch.device("cuda"), torch.bfloat16
        torch.backends.cuda.matmul.allow_tf32 = True
        shape = dict(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                     vocab_size=128256)
    report = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "dtype": str(dtype), "layers": args.layers, "seq_len": args.seq_len,
              "batch_pairs": args.batch_pairs, **shape}
    peak = matmul_tflops(device, dtype, args.matmul_n, 20 if device.type == "cuda" else 3)
    report["matmul_tflops"] = peak
    print(f"{args.matmul_n}³ {dtype} matmul: {peak:.1f} TFLOP/s", flush=True)

    # rope θ etc. left at defaults: they do not change the FLOPs
    config = LlamaConfig(num_hidden_layers=args.layers, max_position_embeddings=max(args.seq_len, 1024),
                         use_cache=False, tie_word_embeddings=False, **shape)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bf16 directly: no float32 copy of ~1.5 B parameters
    try:
        with torch.device(device):  # initialised on the GPU: a CPU init of ~1.5 B parameters takes minutes
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default_dtype)
    model = add_lora(model, r=8, alpha=32, dropout=0.1, kind="causal_lm")
    model.train()
    report["build_seconds"] = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    embed = model.get_base_model().model.embed_tokens.weight.numel()
    matmul_params = n_params - embed
    report.update(parameters=n_params, matmul_parameters=matmul_params,
                  trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))
    print(f"model: {args.layers} layers, {n_params / 1e9:.3f} B parameters ({matmul_params / 1e9:.3f} B in "
          f"matmuls), {report['trainable'] / 1e6:.2f} M trainable (LoRA), built in {report['build_seconds']:.1f} s",
          flush=True)

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-5, weight_decay=0.001)
    b, t = args.batch_pairs, args.seq_len
    g = torch.Generator(device="cpu").manual_seed(0)
    input_ids = torch.randint(0, shape["vocab_size"], (2 * b, t), generator=g).to(device)
    attention_mask = torch.ones_like(input_ids)
    response_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    response_mask[:, t // 4:] = True  # a quarter prompt, three quarters response

    def step():
        s = sequence_scores(model, input_ids, attention_mask, response_mask, "dpo")
        loss = preference_loss("dpo", s[:b] - s[b:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t1 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync(device)
    dt = (time.perf_counter() - t1) / args.steps
    tokens = 2 * b * t
    flops = 4 * matmul_params * tokens
    achieved = flops / dt / 1e12
    floor = flops / (peak * 1e12)
    report.update(step_seconds=dt, tokens_per_second=tokens / dt, achieved_tflops=achieved,
                  floor_seconds=floor, ratio_to_floor=dt / floor, final_loss=loss.item(),
                  peak_memory_gib=(torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None))
    print(f"LoRA DPO step ({2 * b} × {t} tokens): {dt * 1e3:.1f} ms, {tokens / dt:,.0f} tokens/s, "
          f"{achieved:.1f} TFLOP/s (4·P·T), floor {floor * 1e3:.1f} ms at {peak:.0f} TFLOP/s → "
          f"{dt / floor:.2f}× the floor", flush=True)
    if report["peak_memory_gib"] is not None:
        print(f"peak GPU memory {report['peak_memory_gib']:.1f} GiB")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
