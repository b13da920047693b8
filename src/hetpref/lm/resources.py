"""Resource and time model of the LM stage's jobs (README "Resource and time model").

Pure arithmetic, no torch and no CUDA probe: ``rules/lm.smk`` calls it while the DAG is built
(the submit host often has no GPU), and the README's numbers are printed by
``python -m hetpref.lm.resources``. Every assumption is a named constant below; the FLOP count is
the one ``bench/gpu_check.py`` measures MFU with and ``bench/gpu_hours.py`` totals.

What a job needs:

- **host RAM** (``mem_mb``): each process builds its bf16 base on the CPU and then moves it to its
  GPU. The safetensors files are memory-mapped: their pages are file-backed page cache, which the
  kernel drops under the job's cgroup limit, so they need no ``mem_mb`` of their own; what must
  fit is the anonymous bf16 copy the model is built in (2 bytes per parameter), the Python/torch/
  CUDA runtime and the job's data. ``mem_mb`` = processes × (weights + runtime + data) × headroom.
- **GPU memory** (not requested from SLURM, which cannot: pick a GPU type with at least this):
  bf16 weights + LoRA's fp32 weights, gradients and Adam states + activations of the largest
  micro-batch (every sequence at ``max_length``) + the float logits of a policy + a fixed CUDA
  context and workspace.
- **wall time**: model FLOPs / (GPUs × dense bf16 peak × MFU) × safety + start-up per base
  model load, for the slowest supported GPU (A100); a resubmission (``attempt`` > 1) gets
  ``attempt`` times as long.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .data.hh_rlhf.format import HH_RLHF_PAIRS
from .hub import cached_model_config
from .names import OBJECTIVE_SPECS, TINY_SPEC, objective_spec  # torch-free, like this module

# ----------------------------------------------------------------------------- assumptions

GPU_PEAK_TFLOPS = {"A100": 312.0, "H100": 989.0, "H200": 989.0}  # dense bf16, SXM data sheets
GPU_MEMORY_GB = {"A100": 80.0, "H100": 80.0, "H200": 141.0}  # the larger A100 (the 40 GB one: see gpu_mem_gb)
LIMIT_GPU = "A100"  # runtime limits are sized for the slowest GPU the model covers
ASSUMED_MFU = 0.25  # model FLOPs utilisation: bench/gpu_hours.py brackets the paper's step at 15–30 %
SAFETY = 1.5  # compute time × this in every limit (MFU below the assumption, slow nodes, checkpoints)
# minutes per base-model load: 16 GB of weights from a shared disk (~5 min at 50 MB/s), imports, tokenising
STARTUP_MIN = 10
CPUS_PER_GPU = 8  # CPU cores per GPU: data loading, tokenising and the CUDA launch threads of one process
RUNTIME_GB = 4.0  # host RAM of one process besides weights and data: Python, torch, CUDA and NCCL libraries
# host RAM per pair held: record text (1.37 kB per pair on harmless-base) + dicts + token-id lists
DATA_BYTES_PER_PAIR = 32_000
HOST_HEADROOM = 1.2  # host RAM × this
GPU_CONTEXT_GB = 3.0  # CUDA context, cuBLAS workspace, allocator slack
GPU_HEADROOM = 1.1  # GPU memory × this (fragmentation)
SCORE_BATCH_PAIRS = 8  # pairs per forward batch of evaluation and relabelling (hetpref.lm.evaluation's default)
# Padded tokens per pair / (2 · max_length) at max_length 512, for micro-batches of b pairs padded to
# their longest sequence: bench/gpu_hours.py's estimate on the real harmless-base test split (1.3
# tokens per word, 97 % of pairs kept). Larger batches pad more; other sizes use the next larger b.
PADDED_SHARE = {1: 0.32, 2: 0.43, 4: 0.55, 8: 0.66, 16: 0.76}
# lm_data (CPU): reads, parses, tokenises (without truncation) and relabels every pair.
DATA_PAIRS_PER_S_PER_THREAD = 200  # conservative for a fast (Rust) tokenizer on ~290-token transcripts
DATA_RAM_BYTES_PER_PAIR = 16_000  # records, their datasets (per_type holds each pair 3×) and the length table
DATA_THREADS = 2


def batch_split_problem(batch_size: int, accumulation: int, processes: int) -> str | None:
    """Why the global batch cannot be split into ``accumulation × processes`` equal micro-batches,
    and what to change (None when it can). Used by the workflow's config check and the trainer."""
    denom = accumulation * processes
    if batch_size % denom == 0:
        return None
    per_step = batch_size // accumulation if batch_size % accumulation == 0 else 0
    fits = [g for g in range(1, per_step + 1) if per_step % g == 0]
    gpus = (f"set lm.gpus_per_job to a divisor of batch_size / gradient_accumulation_steps = "
            f"{batch_size} / {accumulation} ({', '.join(map(str, fits))})" if fits else
            f"set lm.train.gradient_accumulation_steps to a divisor of {batch_size}")
    return (f"lm.train.batch_size = {batch_size} pairs per optimizer step cannot be split into "
            f"lm.train.gradient_accumulation_steps × lm.gpus_per_job = {accumulation} × {processes} = {denom} "
            f"equal micro-batches (the global batch is per device × accumulation × processes): {gpus}, or "
            f"lm.train.batch_size to a multiple of {denom} (a larger batch changes the optimisation: the paper's is 2 "
            f"pairs, so more than 2 GPUs per job cannot reproduce it — run more jobs side by side instead)")


def padded_share(batch_pairs: int) -> float:
    """Padded tokens per pair over ``2·max_length`` for micro-batches of ``batch_pairs`` pairs
    (:data:`PADDED_SHARE`; more than 16 pairs: every sequence counted at ``max_length``)."""
    for b in sorted(PADDED_SHARE):
        if batch_pairs <= b:
            return PADDED_SHARE[b]
    return 1.0


# ----------------------------------------------------------------------------- FLOPs


def lora_step_flops(p_mm: float, p_lora: float, layers: int, width: int, seq_len: float, tokens: float) -> float:
    """Model FLOPs of LoRA training on ``tokens`` tokens of sequences of length ``seq_len``:

        (4·P_mm + 6·P_lora + 6·L·S·d) · T

    P_mm = parameters in matrix products with the frozen base (no embedding lookup, the LM head
    once): forward 2·P_mm·T plus activation gradients 2·P_mm·T (a frozen base has no weight
    gradients; full fine-tuning would be 6·P_mm·T); LoRA's own forward and backward 6·P_lora·T;
    causal attention 6·L·S·d·T."""
    return float((4 * p_mm + 6 * p_lora + 6 * layers * seq_len * width) * tokens)


def forward_flops(p_mm: float, layers: int, width: int, seq_len: float, tokens: float) -> float:
    """Model FLOPs of a forward pass only (scoring): (2·P_mm + 2·L·S·d) · T — the forward third of
    :func:`lora_step_flops` (the LoRA matrices are < 0.1 % and left out)."""
    return float((2 * p_mm + 2 * layers * seq_len * width) * tokens)


# ----------------------------------------------------------------------------- model shapes


@dataclass(frozen=True)
class ModelShape:
    """A Llama-architecture decoder (what ``lm.model`` names), enough to count parameters."""
    layers: int
    width: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied: bool = False

    @classmethod
    def from_config(cls, cfg: dict) -> "ModelShape":
        """From a transformers ``config.json`` (Llama, Mistral, Qwen2 and similar key names)."""
        heads = int(cfg["num_attention_heads"])
        return cls(layers=int(cfg["num_hidden_layers"]), width=int(cfg["hidden_size"]),
                   intermediate=int(cfg["intermediate_size"]), vocab=int(cfg["vocab_size"]), heads=heads,
                   kv_heads=int(cfg.get("num_key_value_heads") or heads),
                   tied=bool(cfg.get("tie_word_embeddings", False)))

    @property
    def kv_width(self) -> int:
        return self.width * self.kv_heads // self.heads

    @property
    def block_params(self) -> int:
        d, f = self.width, self.intermediate
        return self.layers * (2 * d * d + 2 * d * self.kv_width + 3 * d * f + 2 * d)  # q, o; k, v; MLP; 2 norms

    @property
    def embedding(self) -> int:
        return self.vocab * self.width

    @property
    def params(self) -> int:
        """Parameters of the causal LM (a tied head is counted once)."""
        return self.block_params + self.embedding + (0 if self.tied else self.embedding) + self.width

    def base_params(self, kind: str) -> int:
        """Parameters of the loaded base: the causal LM, or the reward model (no LM head, a 1-output score head)."""
        if kind == "causal_lm":
            return self.params
        return self.block_params + self.embedding + self.width + self.width

    def matmul_params(self, kind: str) -> int:
        """P_mm of :func:`lora_step_flops`: the blocks' projections, plus the LM head for a policy."""
        return self.layers * (2 * self.width ** 2 + 2 * self.width * self.kv_width
                              + 3 * self.width * self.intermediate) \
            + (self.embedding if kind == "causal_lm" else 0)

    def lora_params(self, r: int) -> int:
        """LoRA on q_proj and v_proj (peft's Llama default, what the trainer uses)."""
        return self.layers * r * ((self.width + self.width) + (self.width + self.kv_width))


LLAMA3_8B = ModelShape(layers=32, width=4096, intermediate=14336, vocab=128256, heads=32, kv_heads=8)
KNOWN_SHAPES = {
    "meta-llama/Meta-Llama-3-8B": LLAMA3_8B,
    "meta-llama/Meta-Llama-3-8B-Instruct": LLAMA3_8B,
    "meta-llama/Llama-3.1-8B": LLAMA3_8B,
    "meta-llama/Llama-3.1-8B-Instruct": LLAMA3_8B,
    "smollm2-135m": ModelShape(layers=30, width=576, intermediate=1536, vocab=49152, heads=9, kv_heads=3, tied=True),
}


def model_shape(spec: str, tiny_config: dict | None = None, vocab_size: int = 2000) -> ModelShape:
    """The shape of ``lm.model`` without loading it or touching the network: the tiny model from
    its config, a known id, a local folder's ``config.json``, or a hub id's ``config.json`` already
    in the Hugging Face cache. Anything else: Llama-3-8B's shape, with a warning (the limits are
    then those of an 8B model; stage the model first to have its own)."""
    if spec == TINY_SPEC:
        t = tiny_config or {}
        return ModelShape(layers=t.get("num_layers", 2), width=t.get("hidden_size", 64),
                          intermediate=t.get("intermediate_size", 128), vocab=vocab_size,
                          heads=t.get("num_heads", 4), kv_heads=t.get("num_heads", 4))
    if spec in KNOWN_SHAPES:
        return KNOWN_SHAPES[spec]
    cfg = cached_model_config(spec)
    if cfg is not None:
        return ModelShape.from_config(cfg.get("text_config", cfg))
    warnings.warn(f"lm.model {spec!r}: no config.json found locally or in the Hugging Face cache; "
                  "resources are sized for Llama-3-8B's shape", stacklevel=2)
    return LLAMA3_8B


# ----------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobEstimate:
    """What one job needs: ``mem_mb`` and ``runtime_min`` (attempt 1) are what the rule requests."""
    mem_mb: int
    runtime_min: int
    threads: int
    gpus: int = 0
    gpu_mem_gb: float = 0.0
    compute_hours: float = 0.0  # GPU-hours of model FLOPs at the assumed MFU (no start-up, no safety)
    details: dict = field(default_factory=dict, compare=False)

    def runtime(self, attempt: int = 1) -> int:
        """Minutes of wall time for Snakemake's ``attempt`` (1 on first submission): a job that hit
        its limit is resubmitted with ``attempt`` times as long, and resumes (README)."""
        return self.runtime_min * max(1, int(attempt))


def _mem_mb(gb_per_process: float, processes: int = 1) -> int:
    return int(math.ceil(processes * gb_per_process * HOST_HEADROOM)) * 1000


def _wall_min(flops: float, gpus: int, gpu: str, mfu: float, loads: int) -> tuple[int, float]:
    seconds = flops / (gpus * GPU_PEAK_TFLOPS[gpu] * 1e12 * mfu)
    return int(math.ceil(seconds * SAFETY / 60 + STARTUP_MIN * loads)), seconds * gpus / 3600


def _activation_bytes_per_token(shape: ModelShape, checkpointing: bool) -> float:
    """Saved activations of one token through every block in bf16: the inputs of each norm,
    projection and the SwiGLU intermediates, 2·(8·d + 4·f) bytes per layer (Korthikanti et al.
    2022's count, SwiGLU instead of GeLU; SDPA keeps no S² scores). Activation checkpointing keeps
    each block's input (2·d) and recomputes one block at a time."""
    per_layer = 2 * (8 * shape.width + 4 * shape.intermediate)
    if checkpointing:
        return shape.layers * 2 * shape.width + per_layer
    return shape.layers * per_layer


def _logit_bytes_per_token(shape: ModelShape, kind: str, train: bool) -> float:
    """A policy's logits: bf16 output, its float32 copy and cross-entropy's float32 softmax (and
    its gradient when training); a reward model has a scalar head only."""
    if kind != "causal_lm":
        return 0.0
    return shape.vocab * (2 + 4 + 4 + (4 if train else 0))


def train_job(shape: ModelShape, kind: str, pairs: int, batch_size: int, gpus: int = 1,
              gradient_accumulation_steps: int = 1, max_length: int = 512, epochs: int = 1,
              gradient_checkpointing: bool = False, lora_r: int = 8, gpu: str = LIMIT_GPU,
              mfu: float = ASSUMED_MFU, reference_forward: bool = False) -> JobEstimate:
    """One ``lm_train`` job: LoRA on ``pairs`` training pairs (an upper bound: the kept pairs are
    fewer), global batch ``batch_size`` split over ``gpus`` processes × accumulation.
    ``reference_forward``: each step also runs the frozen base forward (DPO against π_ref = base,
    the ``dpo_base`` arm), :func:`forward_flops` more per step."""
    micro = max(1, batch_size // (gradient_accumulation_steps * gpus))
    steps = (pairs // batch_size) * epochs
    seq = padded_share(micro) * max_length  # mean padded sequence length
    tokens = steps * batch_size * 2 * seq
    flops = lora_step_flops(shape.matmul_params(kind), shape.lora_params(lora_r), shape.layers, shape.width, seq,
                            tokens)
    if reference_forward:
        flops += forward_flops(shape.matmul_params(kind), shape.layers, shape.width, seq, tokens)
    runtime, hours = _wall_min(flops, gpus, gpu, mfu, loads=1)
    weights_gb = 2 * shape.base_params(kind) / 1e9
    worst_tokens = 2 * micro * max_length
    gpu_gb = (weights_gb + 16 * shape.lora_params(lora_r) / 1e9 + GPU_CONTEXT_GB
              + worst_tokens * (_activation_bytes_per_token(shape, gradient_checkpointing)
                                + _logit_bytes_per_token(shape, kind, train=True)) / 1e9) * GPU_HEADROOM
    host_gb = weights_gb + RUNTIME_GB + pairs * DATA_BYTES_PER_PAIR / 1e9
    return JobEstimate(mem_mb=_mem_mb(host_gb, gpus), runtime_min=runtime, threads=CPUS_PER_GPU * gpus, gpus=gpus,
                       gpu_mem_gb=round(gpu_gb, 1), compute_hours=round(hours, 2),
                       details={"steps": steps, "micro_batch_pairs": micro, "tokens": tokens, "flops": flops,
                                "gpu": gpu, "mfu": mfu})


def score_job(shape: ModelShape, kind: str, pairs: int, models: int = 1, max_length: int = 512,
              batch_pairs: int = SCORE_BATCH_PAIRS, gpu: str = LIMIT_GPU, mfu: float = ASSUMED_MFU) -> JobEstimate:
    """A forward-only job on one GPU: the test-set evaluation that ends an ``lm_train`` job (one
    model, the test pairs: :func:`with_evaluation`) or ``lm_indirect_relabel`` (``models`` reward
    models in turn, each over every training pair)."""
    seq = padded_share(batch_pairs) * max_length
    tokens = models * pairs * 2 * seq
    flops = forward_flops(shape.matmul_params(kind), shape.layers, shape.width, seq, tokens)
    runtime, hours = _wall_min(flops, 1, gpu, mfu, loads=models)
    weights_gb = 2 * shape.base_params(kind) / 1e9
    worst_tokens = 2 * batch_pairs * max_length
    per_layer = 2 * (8 * shape.width + 4 * shape.intermediate)  # one block's activations at a time (no grad)
    gpu_gb = (weights_gb + GPU_CONTEXT_GB
              + worst_tokens * (per_layer + _logit_bytes_per_token(shape, kind, train=False)) / 1e9) * GPU_HEADROOM
    host_gb = weights_gb + RUNTIME_GB + pairs * DATA_BYTES_PER_PAIR / 1e9
    return JobEstimate(mem_mb=_mem_mb(host_gb), runtime_min=runtime, threads=CPUS_PER_GPU, gpus=1,
                       gpu_mem_gb=round(gpu_gb, 1), compute_hours=round(hours, 2),
                       details={"tokens": tokens, "flops": flops, "gpu": gpu, "mfu": mfu})


def with_evaluation(train: JobEstimate, evaluate: JobEstimate) -> JobEstimate:
    """An ``lm_train`` job: the training (``train``, :func:`train_job`), then in the same job the
    test-set evaluation (``evaluate``, :func:`score_job`: one GPU; the model in memory after an
    in-process training, the base rebuilt from the saved adapter after a torchrun one). Runtimes
    and GPU-hours add up; memory is the larger of the two."""
    return JobEstimate(mem_mb=max(train.mem_mb, evaluate.mem_mb), runtime_min=train.runtime_min + evaluate.runtime_min,
                       threads=train.threads, gpus=train.gpus, gpu_mem_gb=max(train.gpu_mem_gb, evaluate.gpu_mem_gb),
                       compute_hours=round(train.compute_hours + evaluate.compute_hours, 2),
                       details={**train.details, "evaluation_flops": evaluate.details["flops"],
                                "evaluation_runtime_min": evaluate.runtime_min})


def data_job(pairs: int) -> JobEstimate:
    """``lm_data`` (CPU; it never loads the weights): every pair of both splits read, tokenised
    and relabelled in memory."""
    seconds = pairs / (DATA_PAIRS_PER_S_PER_THREAD * DATA_THREADS)
    return JobEstimate(mem_mb=_mem_mb(RUNTIME_GB / 2 + pairs * DATA_RAM_BYTES_PER_PAIR / 1e9),
                       runtime_min=int(math.ceil(seconds * SAFETY / 60 + STARTUP_MIN)), threads=DATA_THREADS)


# ----------------------------------------------------------------------------- the workflow's jobs


def dataset_pairs(lm: dict) -> dict:
    """Upper bounds on the pairs of each split an ``lm:`` config reads (before the length filter)."""
    if lm["source"] == "demo":
        per = {"train": lm["demo"]["train_pairs"], "test": lm["demo"]["test_pairs"]}
        return {split: n * len(lm["subsets"]) for split, n in per.items()}
    return {split: sum(sizes[s] for s in lm["subsets"]) for split, sizes in HH_RLHF_PAIRS.items()}


def lm_job_estimates(lm: dict, gpu: str = LIMIT_GPU, mfu: float = ASSUMED_MFU) -> dict:
    """Every LM job kind of an ``lm:`` config → :class:`JobEstimate` (``lm_train`` per objective)."""
    shape = model_shape(lm["model"], lm.get("tiny"), lm.get("tiny", {}).get("vocab_size", 2000))
    pairs = dataset_pairs(lm)
    t = lm["train"]

    def kind_of(objective):  # every workflow objective, the DPO arms included (hetpref.lm.names)
        return objective_spec(objective)[0]

    def with_reference(objective):  # dpo_base scores every sequence twice: the policy and the frozen base
        return objective_spec(objective)[1] == "base_reference"

    train = {objective: train_job(shape, kind_of(objective), pairs["train"],
                                  t["batch_size"], lm["gpus_per_job"], t["gradient_accumulation_steps"],
                                  lm["max_length"], t["epochs"], t["gradient_checkpointing"], t["lora_r"], gpu, mfu,
                                  reference_forward=with_reference(objective))
             for objective in OBJECTIVE_SPECS}
    evaluate = {objective: score_job(shape, kind_of(objective), pairs["test"],
                                     2 if with_reference(objective) else 1, lm["max_length"], gpu=gpu, mfu=mfu)
                for objective in OBJECTIVE_SPECS}
    jobs = {objective: with_evaluation(train[objective], evaluate[objective]) for objective in OBJECTIVE_SPECS}
    return {"shape": shape, "pairs": pairs, "lm_train": jobs, "training": train, "evaluation": evaluate,
            "lm_indirect_relabel": score_job(shape, "reward", pairs["train"], 3, lm["max_length"], gpu=gpu, mfu=mfu),
            "lm_data": data_job(pairs["train"] + pairs["test"])}


def main(argv=None) -> None:
    """Print the model's numbers for a config: ``python -m hetpref.lm.resources configs/paper.yaml``."""
    import argparse

    import yaml

    from ..config import deep_merge  # here, not at the top: hetpref.config imports this module's checks

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("configs", nargs="+", help="config.yaml, then overrides (e.g. configs/paper.yaml)")
    ap.add_argument("--mfu", type=float, default=ASSUMED_MFU)
    a = ap.parse_args(argv)
    lm: dict = {}
    for path in a.configs:
        lm = deep_merge(lm, yaml.safe_load(Path(path).read_text()).get("lm", {}))
    print(f"model {lm['model']}, pairs {dataset_pairs(lm)}, MFU {a.mfu}, safety {SAFETY}, "
          f"start-up {STARTUP_MIN} min/load")
    print("| job | GPU | mem_mb | GPU memory GB | compute GPU-h | runtime limit min |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for gpu, label in (("A100", "A100"), ("H100", "H100/H200")):  # H200: H100's peak, more memory
        est = lm_job_estimates(lm, gpu, a.mfu)
        rows = [(f"lm_train {o}", est["lm_train"][o]) for o in ("reward", "dpo")]
        rows += [(f"  of which training {o}", est["training"][o]) for o in ("reward", "dpo")]
        rows += [(f"  of which test evaluation {o}", est["evaluation"][o]) for o in ("reward", "dpo")]
        rows += [("lm_indirect_relabel", est["lm_indirect_relabel"])]
        for name, e in rows:
            print(f"| {name} | {label} | {e.mem_mb} | {e.gpu_mem_gb} | {e.compute_hours} | {e.runtime_min} |")
    d = lm_job_estimates(lm)["lm_data"]
    print(f"| lm_data | CPU | {d.mem_mb} | – | – | {d.runtime_min} |")


if __name__ == "__main__":
    main()
