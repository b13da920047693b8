"""Preference pairs as the trainer sees them: tokenised (:func:`encode_records`, over-long pairs
stopped or dropped, never truncated), collated into right-padded batches with the response
marked (:func:`collate`, :func:`pair_batch`), ordered per epoch by (seed, epoch) alone
(:func:`epoch_order`, :class:`EpochPermutationSampler`), and hashed for the resume fingerprint
(:func:`records_sha256`, :func:`tokenizer_sha256`).

Sequences are ``[bos] + prompt + response + [eos]`` with prompt and response tokenised apart
(so the response boundary is exact), right-padded; chosen and rejected responses of a batch run
in one forward pass (rows 0..B−1 chosen, B..2B−1 rejected)."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

log = logging.getLogger("hetpref.lm.training.train")  # the trainer's log: the job log shows these lines under it

@dataclass
class EncodedPairs:
    """Token ids of preference pairs: ``prompt[i]`` (bos included), ``chosen[i]`` and
    ``rejected[i]`` (responses, eos included when configured)."""
    ids: list[str]
    prompt: list[list[int]]
    chosen: list[list[int]]
    rejected: list[list[int]]
    dropped: list[dict] = field(default_factory=list)
    # V̂ = Var_u[σ(Δ_u)] of each pair (corrected DPO, docs/spec.md §4), from the records' "variance"
    variance: list[float] | None = None

    def __len__(self):
        return len(self.ids)


def encode_records(records: Sequence[dict], tokenizer, max_length: int, overlength: str = "error",
                   add_eos: bool = True) -> EncodedPairs:
    """Tokenise records ``{"id", "prompt", "chosen", "rejected", ...}``.

    Records that all carry a ``"variance"`` field (corrected DPO's V̂) keep it, per kept pair,
    in ``EncodedPairs.variance``.

    Over-long pairs (prompt + longer response over ``max_length`` text tokens; the bos/eos the
    trainer adds are not counted, matching the data filter) are
    never truncated — truncation would change log π(y|x) — but, by explicit choice, either stop
    the run with an error naming each such example and its length (``"error"``) or are dropped
    and listed (``"drop"``).
    """
    if overlength not in ("error", "drop"):
        raise ValueError(f"overlength must be 'error' or 'drop', got {overlength!r}")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []

    def tok(texts):
        return tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    prompts = tok(r["prompt"] for r in records)
    chosen = tok(r["chosen"] for r in records)
    rejected = tok(r["rejected"] for r in records)
    out = EncodedPairs([], [], [], [])
    with_variance = bool(records) and all("variance" in r for r in records)
    if with_variance:
        out.variance = []
    for r, p, c, j in zip(records, prompts, chosen, rejected):
        # the cap counts text tokens (prompt + longer response, bos/eos excluded), as the data
        # module's 512-token filter does (docs/spec.md §8), so filtered data never trips it
        n = len(p) + max(len(c), len(j))
        if n > max_length:
            out.dropped.append({"id": str(r["id"]), "tokens": n, "prompt_tokens": len(p)})
            continue
        p, c, j = bos + p, c + eos, j + eos
        if not c or not j:
            raise ValueError(f"example {r['id']!r}: empty response after tokenisation (chosen {len(c)}, "
                             f"rejected {len(j)} tokens); nothing to score")
        out.ids.append(str(r["id"]))
        out.prompt.append(p)
        out.chosen.append(c)
        out.rejected.append(j)
        if with_variance:
            out.variance.append(float(r["variance"]))
    if out.dropped and overlength == "error":
        worst = ", ".join(f"{d['id']!r} ({d['tokens']} tokens)" for d in out.dropped[:5])
        raise ValueError(f"{len(out.dropped)} of {len(records)} pairs exceed max_length = {max_length} tokens "
                         f"(prompt + longer response, bos/eos not counted), e.g. {worst}. Filter them upstream "
                         "(docs/spec.md §8 keeps pairs of ≤ 512 tokens), raise max_length, or set overlength: drop.")
    if out.dropped:
        log.warning("dropped %d of %d pairs longer than %d tokens", len(out.dropped), len(records), max_length)
    return out


def collate(prompts: Sequence[list[int]], responses: Sequence[list[int]], pad_id: int):
    """Right-padded ``input_ids``, ``attention_mask`` and ``response_mask`` ([N, T]) of the
    sequences ``prompt + response``; ``response_mask`` marks response tokens (the scored ones)."""
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses)]
    n, t = len(lengths), max(lengths)
    input_ids = torch.full((n, t), pad_id, dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):  # one copy per sequence, not per token
        input_ids[i, :lengths[i]] = torch.tensor(p + r, dtype=torch.long)
    pos = torch.arange(t)
    lens = torch.tensor(lengths)
    starts = torch.tensor([len(p) for p in prompts])
    attention_mask = (pos < lens[:, None]).long()
    response_mask = (pos >= starts[:, None]) & (pos < lens[:, None])
    return input_ids, attention_mask, response_mask


def pair_batch(enc: EncodedPairs, idx: Sequence[int], pad_id: int):
    """One forward batch of pairs ``idx``: rows 0..B−1 are chosen, B..2B−1 rejected."""
    prompts = [enc.prompt[i] for i in idx]
    return collate(prompts + prompts, [enc.chosen[i] for i in idx] + [enc.rejected[i] for i in idx], pad_id)

def records_sha256(records: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        fields = [r["id"], r["prompt"], r["chosen"], r["rejected"]] + ([r["variance"]] if "variance" in r else [])
        h.update(json.dumps(fields, ensure_ascii=False).encode())
    return h.hexdigest()


def tokenizer_sha256(tokenizer) -> str:
    """Identity of a tokenizer's vocabulary and special tokens (a retrained tokenizer of the same
    size must not resume an old checkpoint)."""
    vocab = sorted(tokenizer.get_vocab().items())
    special = [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id]
    return hashlib.sha256(json.dumps([vocab, special], ensure_ascii=False).encode()).hexdigest()


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The pair order of an epoch: a function of (seed, epoch) only, so a resumed run needs no
    saved iterator state and every process count sees the same order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class PairDataset(torch.utils.data.Dataset):
    """Indices of the encoded pairs (the collator builds the tensors). Holds the current epoch
    for :class:`EpochPermutationSampler`: accelerate forwards ``set_epoch`` to the sampler or to
    the dataset depending on how the data loader is wrapped (a resumed multi-process loader
    reaches only the dataset), so both lead here."""

    def __init__(self, n: int):
        self.n, self.epoch = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)


class EpochPermutationSampler(torch.utils.data.Sampler):
    """Yields :func:`epoch_order` of the current epoch, cut to a whole number of global batches.

    accelerate shards the batches of this order round-robin over the processes (batch k of
    ``per_device`` pairs goes to process k mod N), so optimizer step s always covers positions
    ``[s·G, (s+1)·G)`` of the order, G = ``batch_size``, whatever the split into processes and
    accumulation steps. The ``n mod G`` pairs at the end of each epoch's order are not used in
    that epoch (another draw each epoch): a short last batch would be weighted differently by
    different process counts (DDP averages equal-sized shards)."""

    def __init__(self, dataset: PairDataset, seed: int, global_batch: int):
        self.dataset, self.seed, self.global_batch = dataset, int(seed), int(global_batch)
        self.n_used = len(dataset) // self.global_batch * self.global_batch

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return self.n_used

    def __iter__(self):
        return iter(epoch_order(self.seed, self.dataset.epoch, len(self.dataset))[:self.n_used].tolist())


class PairCollator:
    """A batch of pair indices → :func:`pair_batch`'s tensors (chosen rows first) and the indices,
    plus each pair's ``variance`` when the pairs carry one (corrected DPO)."""

    def __init__(self, enc: EncodedPairs, pad_id: int):
        self.enc, self.pad_id = enc, pad_id
        self.variance = None if enc.variance is None else torch.tensor(enc.variance, dtype=torch.float32)

    def __call__(self, idx: list[int]) -> dict:
        input_ids, attention_mask, response_mask = pair_batch(self.enc, idx, self.pad_id)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask,
                 "pair_index": torch.tensor(idx, dtype=torch.long)}
        if self.variance is not None:
            batch["variance"] = self.variance[batch["pair_index"]]
        return batch
