"""Sequence scores of policies and reward models (docs/spec.md §4, §8): the per-sequence score a
preference margin ``h = s(chosen) − s(rejected)`` is built from, shared by training
(:class:`PairScorer`, the module the Trainer trains) and evaluation.

- Policy: ``log π(y|x) = Σ_{t ∈ response} log p(y_t | x, y_<t)`` (:func:`sequence_logprobs`), only
  response tokens scored, with the causal shift (logits at position t predict token t+1); the arms
  of :data:`hetpref.lm.names.DPO_SCORINGS` change only this score: the public reference code's
  unshifted score (:func:`reference_code_logprobs`), standard DPO against the frozen base
  (``base_reference``) and the mean log-probability per response token (``response_mean``).
- Reward model: ``R(x, y)``, the scalar head at the last non-pad token."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..names import DPO_SCORINGS, KINDS


def _summed_rows(row_nll: torch.Tensor, rows: torch.Tensor, reduction: str) -> torch.Tensor:
    """``−Σ`` per sequence of the token NLLs ``row_nll`` ([M], one per True of ``rows`` [N, T′],
    row-major), laid back out on ``rows`` with zeros elsewhere: the same [N, T′] tensor, and so the
    same sums bit for bit, as cross-entropy over every position with the others ignored."""
    dense = row_nll.new_zeros(rows.shape).masked_scatter(rows, row_nll)
    total = -dense.sum(-1)
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / rows.sum(-1).clamp(min=1)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def _scored_positions(input_ids, attention_mask, response_mask, scoring: str):
    """(``rows`` [N, T′] bool, ``targets`` [M], ``shift``) of a policy scoring: the positions whose
    logits are scored, the tokens they are scored against, and whether the logits at t − 1 predict
    token t (``shift`` = 1, the causal score) or the logits at t token t (0, the reference code)."""
    if scoring == "reference_code":
        rows = attention_mask.bool()
        return rows, input_ids[rows], 0
    rows = response_mask[:, 1:].bool()
    return rows, input_ids[:, 1:][rows], 1


def sequence_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor,
                      reduction: str = "sum") -> torch.Tensor:
    """``log π(y|x) = Σ_{t: response_mask[t]} log softmax(logits[t−1])[input_ids[t]]`` per row
    (docs/spec.md §4/§8 sequence log-probability). The shift is the causal one: the logits at
    position t − 1 predict token t, so the prompt is context only and padding scores nothing.
    ``reduction='mean'`` divides by the number of scored tokens: the mean log-probability per
    response token (the length-normalised arm)."""
    rows, targets, _ = _scored_positions(input_ids, None, response_mask, "response_sum")
    # cross_entropy = −log softmax at the target, fused, on the scored positions only
    return _summed_rows(F.cross_entropy(logits[:, :-1][rows].float(), targets, reduction="none"), rows, reduction)


def reference_code_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
                            ) -> torch.Tensor:
    """The public reference code's sequence score (arashne/dahp, Llama-experiments/train.py):
    ``Σ_{t: attention_mask[t]} log softmax(logits[t])[input_ids[t]]`` — **unshifted** (the logits
    at position t, which have already seen token t, scored against token t itself), over every
    real token (bos, prompt, response, eos), summed. Not a log-probability of anything; kept as an
    optional arm to measure what it does to Figure 5. The prompt's terms are the same for the
    two responses of a pair (causal attention), so they cancel in h up to rounding."""
    rows, targets, _ = _scored_positions(input_ids, attention_mask, None, "reference_code")
    return _summed_rows(F.cross_entropy(logits[rows].float(), targets, reduction="none"), rows, "sum")


def _inner(model):
    """The transformers model under an optional peft wrapper (LoRA layers stay injected)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


# model types whose causal-LM logits are exactly ``lm_head(backbone(...).last_hidden_state)``
# (transformers 5.24's LlamaForCausalLM.forward: no scaling, no soft-capping), so that the head can
# be applied to the scored positions alone; any other model computes every position's logits
_HEAD_ON_HIDDEN = ("llama",)


def logits_at(model, input_ids, attention_mask, rows: torch.Tensor, shift: int = 0) -> torch.Tensor:
    """The logits ``[M, V]`` at the positions ``rows`` ([N, T − shift] bool) of the sequences, i.e.
    ``model(...).logits[:, :T − shift][rows]``. For Llama models (:data:`_HEAD_ON_HIDDEN`) the LM head
    runs on those positions' hidden states only: a policy scores its response tokens, about a
    quarter of a padded batch's positions, and the head (vocabulary × width) with its
    cross-entropy is the largest cost of a small model's step."""
    inner = _inner(model)
    if getattr(inner.config, "model_type", None) in _HEAD_ON_HIDDEN and hasattr(inner, "lm_head"):
        hidden = getattr(inner, inner.base_model_prefix)(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        return inner.lm_head(hidden[:, :hidden.shape[1] - shift][rows])
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    return logits[:, :logits.shape[1] - shift][rows]


def policy_logprobs(model, input_ids, attention_mask, response_mask, scoring: str = "response_sum"
                    ) -> torch.Tensor:
    """A policy's sequence score under ``scoring``, the model run once: equal to
    :func:`sequence_logprobs` (sum, or mean for ``response_mean``) or :func:`reference_code_logprobs`
    of the full logits, computed from the scored positions' logits only (:func:`logits_at`)."""
    if scoring not in DPO_SCORINGS:
        raise ValueError(f"dpo scoring must be one of {', '.join(DPO_SCORINGS)}, got {scoring!r}")
    rows, targets, shift = _scored_positions(input_ids, attention_mask, response_mask, scoring)
    nll = F.cross_entropy(logits_at(model, input_ids, attention_mask, rows, shift).float(), targets,
                          reduction="none")
    return _summed_rows(nll, rows, "mean" if scoring == "response_mean" else "sum")


def sequence_scores(model, input_ids, attention_mask, response_mask, kind: str,
                    scoring: str = "response_sum") -> torch.Tensor:
    """Per-sequence score: for a policy (``kind='causal_lm'``) the ``scoring`` of
    :data:`hetpref.lm.names.DPO_SCORINGS` — ``log π(y|x)`` by default, h then being the
    uniform-reference DPO margin; ``base_reference`` returns ``log π(y|x) − log π_ref(y|x)`` with
    π_ref the frozen base (the peft model with its adapter disabled, no gradient: no second copy
    of the model), so h is standard DPO's implicit-reward margin (β = 1). For a reward model,
    ``R(x, y)``: the score head at the last non-pad token. The pooling is ours, from the
    attention mask: transformers pools the last token ≠ pad_token_id, wrong when pad = eos
    (SmolLM2, and our sequences end with eos)."""
    if kind == "causal_lm":
        if scoring == "base_reference" and not hasattr(model, "disable_adapter"):
            raise ValueError("dpo scoring 'base_reference' needs a peft model (the base is its adapter disabled)")
        score = policy_logprobs(model, input_ids, attention_mask, response_mask, scoring)
        if scoring == "base_reference":
            with torch.no_grad(), model.disable_adapter():
                ref = policy_logprobs(model, input_ids, attention_mask, response_mask)
            score = score - ref  # outside no_grad: the policy's term keeps its gradient
        return score
    if kind == "reward":
        inner = _inner(model)
        hidden = getattr(inner, inner.base_model_prefix)(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.sum(-1) - 1  # right padding: the last real token
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return inner.score(pooled).squeeze(-1).float()
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


class PairScorer(torch.nn.Module):
    """The module the Trainer trains: the (peft) model plus our pooling, ``forward`` → one score
    per sequence (:func:`sequence_scores`). Everything runs inside ``forward`` so that DDP's
    gradient hooks and the mixed-precision autocast see the whole computation."""

    def __init__(self, model, kind: str, scoring: str = "response_sum"):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if scoring not in DPO_SCORINGS:
            raise ValueError(f"scoring must be one of {', '.join(DPO_SCORINGS)}, got {scoring!r}")
        self.model, self.kind, self.scoring = model, kind, scoring

    def forward(self, input_ids, attention_mask, response_mask):
        return sequence_scores(self.model, input_ids, attention_mask, response_mask, self.kind, self.scoring)

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs=None, **kwargs):
        """Called by the Trainer when ``activation_checkpointing`` is on: forwarded to the
        transformers model (non-reentrant, so the frozen inputs need no ``requires_grad``). The
        pinned transformers (5.24) has the ``activation_*`` names; the GPU check installs the pins
        too (bench/gpu_check.sh), so no older name is needed here."""
        kw = activation_checkpointing_kwargs or {"use_reentrant": False}
        _inner(self.model).activation_checkpointing_enable(activation_checkpointing_kwargs=kw, **kwargs)

    @property
    def is_activation_checkpointing(self) -> bool:
        return bool(_inner(self.model).is_activation_checkpointing)
