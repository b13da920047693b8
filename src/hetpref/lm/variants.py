"""Direct-alignment variants of the LM stage (issue 19): which sequence score forms h.

Every variant trains with the dataset's own loss (:func:`hetpref.lm.config.loss_for`: plain DPO on
``anonymous``, the consistent loss with k = 3 on the unanimous sets, β = 1 throughout); a variant
changes only how the score of one sequence is computed, and so what h is. Each is its own
``objective`` in the workflow's paths (``results/lm/<tag>/runs/<objective>/...``), trained and
evaluated like ``dpo``, with the same scoring in training and evaluation.

Kept free of torch so the workflow can import it while the DAG is built.
"""
from __future__ import annotations

# scoring of a policy's sequence (hetpref.lm.scoring.sequence_scores):
#   response_sum    log π(y|x) = Σ_{t ∈ response} log p(y_t | x, y_<t): causal shift, response only (MATH.md §8)
#   reference_code  Σ_{t: attention_mask} log softmax(logits[t])[ids[t]]: the public reference code's
#                   score (arashne/dahp Llama-experiments/train.py): unshifted, bos + prompt + response, summed
#   base_reference  log π(y|x) − log π_ref(y|x), π_ref = the frozen base (the adapter disabled): standard DPO
#   response_mean   log π(y|x) / |y|: mean log-probability per response token (eos included)
DPO_SCORINGS = ("response_sum", "reference_code", "base_reference", "response_mean")

# config value of lm.dpo_variants → (objective in the workflow's paths, scoring)
DPO_VARIANTS = {
    "reference_scoring": ("dpo_ref", "reference_code"),
    "base_reference": ("dpo_base", "base_reference"),
    "length_normalised": ("dpo_norm", "response_mean"),
}
# workflow objective → (model kind passed to train/evaluate, scoring, loss override)
OBJECTIVE_SPECS = {
    "reward": ("reward", None, None),
    "dpo": ("dpo", "response_sum", None),
    "ipo": ("dpo", "response_sum", "ipo"),  # the IPO baseline: direct alignment with IPO's loss
    **{objective: ("dpo", scoring, None) for objective, scoring in DPO_VARIANTS.values()},
}
# what "agreement" means per objective (h > 0 on a test pair whose chosen response has the higher r̄)
AGREEMENT_MEANING = {
    "reward": "R(x, y_c) > R(x, y_r)",
    "dpo": "log π(y_c|x) > log π(y_r|x) (response tokens, causal shift)",
    "ipo": "log π(y_c|x) > log π(y_r|x) (response tokens, causal shift)",
    "dpo_ref": "reference code's score of the chosen transcript > the rejected one's "
               "(unshifted, bos + prompt + response)",
    "dpo_base": "implicit reward [log π − log π_base](y_c|x) > [log π − log π_base](y_r|x)",
    "dpo_norm": "mean log-probability per response token of y_c > that of y_r",
}


def objective_spec(objective: str) -> tuple[str, str | None, str | None]:
    """(model kind ``'dpo'``/``'reward'``, DPO scoring or None, loss override or None) of a
    workflow objective; a ValueError lists the allowed names."""
    try:
        return OBJECTIVE_SPECS[objective]
    except KeyError:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVE_SPECS)}, got {objective!r}") from None


def variant_objectives(variants) -> list[str]:
    """Workflow objectives of the configured ``lm.dpo_variants``, in the config's order."""
    out = []
    for v in variants:
        if v not in DPO_VARIANTS:
            raise ValueError(f"lm.dpo_variants: {v!r} is not one of {', '.join(DPO_VARIANTS)}")
        out.append(DPO_VARIANTS[v][0])
    return out
