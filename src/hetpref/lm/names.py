"""Names shared by the LM library and the workflow (rules/common.smk builds its wildcard
constraints and file lists from them): the user types, the dataset files the data step writes,
and the datasets a model can be trained on. Plain tuples, no imports: cheap at DAG build."""

TYPES = (1, 2, 3)  # the three length-based user types (MATH.md §8): long, short, mid
# The files lm_data writes, in this order (relabel.relabel's kinds): five training-split datasets and the test split.
DATASETS = ("anonymous", "unanimous", "unanimous_filtered", "per_type", "average", "test")
# Labellings with an exact label law P(a ≻ b) of a pair of lengths (used by the length oracle).
LABELLINGS = ("anonymous", "unanimous", "unanimous_filtered", "average")
# per_type.jsonl split into one dataset per type (the per-type reward models of §6's indirect method)
PER_TYPE_DATASETS = tuple(f"per_type_u{k}" for k in TYPES)
# What lm_train accepts ("average": labels drawn from r̄ itself, MATH.md §4, the indirect consistent alternative)
TRAIN_DATASETS = ("anonymous", "unanimous", "unanimous_filtered", "average", "indirect", *PER_TYPE_DATASETS)
# plain DPO / BT: one BT label per pair (anonymous), labels from r̄ (average) or from the averaged
# per-type reward models (indirect, §6), and each type's own labels (per_type_u<k>)
PLAIN_DATASETS = ("anonymous", "average", "indirect", *PER_TYPE_DATASETS)
