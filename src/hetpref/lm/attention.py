"""Attention without work on padding: ``attn_implementation: sdpa_unpadded``.

Training and evaluation batches are right-padded (:func:`hetpref.lm.training.pairs.collate`): a DPO step
holds 2 pairs = 4 sequences padded to the longest, and on the default demo data 36 % of those
positions are padding. Causal attention costs O(T²) per sequence, so the padded batch spends
about half of its attention on padding (Σ Lᵢ² against 4·T²), and on a CPU attention is 43 % of a
small model's training step (``torch.profiler``, BENCHMARKS.md).

:func:`unpadded_sdpa_attention` runs PyTorch's fused attention once per sequence on its real
tokens only, causal, and writes zeros at the padded positions. With right padding and a causal
mask a real position attends to real positions only, so every real position's output is the
same attention as ``sdpa``'s with the padding mask; only floating-point rounding differs (the
kernel sums over Lᵢ keys instead of T, ~1e-7 relative; tested). Padded positions are never
scored, pooled or attended to by a real position, so their values do not matter, and nothing
about the rest of the model changes: the LoRA dropout draws the same masks, so a run's random
stream is the same as with ``sdpa``.

Masks that are not "causal, right padding" (left padding, a KV cache, bidirectional models) and
attention dropout fall back to transformers' ``sdpa`` unchanged, so the implementation is safe on
any model it is registered for.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "sdpa_unpadded"


def right_padded_lengths(mask: torch.Tensor | None) -> list[int] | None:
    """Per-sequence lengths ``Lᵢ`` if ``mask`` ([N, 1, T, T] bool, True = attend) is exactly the
    causal mask of right-padded sequences (row i sees keys j ≤ i < Lᵢ, padded rows see keys
    j ≤ i and j < Lᵢ), else None. Read again by every layer: O(N·T²) boolean work, small beside
    the attention it replaces."""
    if mask is None or mask.dtype != torch.bool or mask.dim() != 4 or mask.shape[1] != 1 \
            or mask.shape[2] != mask.shape[3]:
        return None
    t = mask.shape[-1]
    lens = mask[:, 0].diagonal(dim1=-2, dim2=-1).sum(-1)  # row i sees key i ⇔ i < Lᵢ
    pos = torch.arange(t, device=mask.device)
    expected = (pos[None, :, None] >= pos[None, None, :]) & (pos[None, None, :] < lens[:, None, None])
    if not (bool((lens > 0).all()) and torch.equal(mask[:, 0], expected)):
        return None
    return lens.tolist()


def unpadded_sdpa_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                            scaling: float | None = None, **kwargs):
    """transformers attention interface (``query`` [N, H, T, D], ``key``/``value`` [N, H_kv, T, D]
    → output [N, T, H, D], no weights): :func:`torch.nn.functional.scaled_dot_product_attention`
    per sequence on its first ``Lᵢ`` positions, causal, zeros after them. Falls back to
    transformers' ``sdpa_attention_forward`` for any other mask, a KV cache or dropout."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    lengths = None
    if dropout == 0.0 and query.shape[2] == key.shape[2] and query.shape[2] > 1:
        lengths = right_padded_lengths(attention_mask)
    if lengths is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    t = query.shape[2]
    gqa = key.shape[1] != query.shape[1]
    outs = []
    for i, n in enumerate(lengths):
        o = F.scaled_dot_product_attention(query[i:i + 1, :, :n], key[i:i + 1, :, :n], value[i:i + 1, :, :n],
                                           is_causal=True, scale=scaling, enable_gqa=gqa)
        outs.append(F.pad(o, (0, 0, 0, t - n)) if n < t else o)
    return torch.cat(outs).transpose(1, 2).contiguous(), None


def register() -> None:
    """Make ``attn_implementation="sdpa_unpadded"`` known to transformers (idempotent): the
    attention above, with ``sdpa``'s mask builder (a 4-D bool mask, or none without padding)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, unpadded_sdpa_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
