"""Training records from the three views, for hetpref's own LM trainer (:func:`hetpref.lm.training.train.train`).

One loss per information setting (docs/spec.md §4):

- ``dpo``: DPO on the **anonymous** view (one judgement per pair, ties dropped);
- ``consistent``: the consistent loss (Eq. 20, temperature-adjusted DPO with ``k`` = the number of
  types) on the **unanimous** pairs of the **per-type** view: every type labelled the pair and all
  labels agree (a tie or an undecided type is not unanimous). The record's ``chosen`` is the response
  every type preferred. It targets the average reward only when the types are *fixed* (an annotator
  attribute such as expert vs normal worker), not k random anonymous raters;
- ``corrected_dpo``: first-order corrected DPO (§5) on the anonymous view, each record carrying its
  ``variance`` V̂ = Var_u[σ(Δ_u)] estimated by Eq. 19 from the **same-annotator pairs** view
  (:func:`fit_variance_model`, :func:`pair_variance`).

The Eq. 19 estimator is :class:`hetpref.synthetic.variance.LatentTypeJointModel` with tabular
rewards, the reference code's model: one reward ρ_k(x, y) per latent type and (prompt, response)
cell. Real data have no grid of contexts × responses, so the cells are the distinct
(``prompt_id``, ``response_id``) of the table, numbered densely (``n_contexts = 1``, ``n_responses`` =
the cell count; a flat index is then the cell). It is fitted with the synthetic stage's optimiser
(:func:`hetpref.synthetic.optim.optimise`). A pair whose responses no same-annotator pair touches keeps
its initial ρ: its V̂ is near 0 and corrected DPO is DPO there (counted in the fit's ``info``).

Prompts that are conversations (lists of ``{"role", "content"}``) are rendered to text by
:func:`prompt_text` (the model's chat template where its tokenizer has one, else one
``role: content`` block per turn), which is what the trainer tokenises.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..runtime import InputError

log = logging.getLogger("hetpref.annotators.train")

LOSSES = ("dpo", "consistent", "corrected_dpo")
# the LM trainer's dataset name of each loss (hetpref.lm.names.TRAIN_DATASETS): "anonymous" trains
# with DPO (or the loss override), "unanimous" with the consistent loss of k = n_types
TRAINER_DATASET = {"dpo": "anonymous", "consistent": "unanimous", "corrected_dpo": "anonymous"}
LABEL_PREFIX = "label_"  # the per-type view's label columns: label_<type> in {+1 (a), −1 (b), 0}


def prompt_text(prompt, tokenizer=None) -> str:
    """A prompt as the text the trainer tokenises: a str unchanged; a conversation (list of
    ``{"role", "content"}``) through the tokenizer's chat template when it has one (with the
    generation prompt, and without a leading bos: the trainer adds its own), else as
    ``role: content`` blocks separated by blank lines, ending with ``"\n\nassistant:"`` so that
    the response continues the assistant's turn."""
    if isinstance(prompt, str):
        return prompt
    turns = [{"role": t["role"], "content": t["content"]} for t in prompt]
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        bos = tokenizer.bos_token
        return text[len(bos):] if bos and text.startswith(bos) else text
    return "\n\n".join(f"{t['role']}: {t['content']}" for t in turns) + "\n\nassistant:"


def _pairs(table) -> pd.DataFrame:
    """One row per pair of the judgement table, indexed by ``pair_id``."""
    cols = ["pair_id", "prompt_id", "prompt", "response_a_id", "response_b_id", "response_a", "response_b"]
    return table.frame[cols].drop_duplicates("pair_id").set_index("pair_id")


def _records(pair_ids, prompts, chosen, rejected, **extra) -> list[dict]:
    cols = {"id": [str(p) for p in pair_ids], "prompt": [prompt_text(p) for p in prompts],
            "chosen": list(chosen), "rejected": list(rejected)}
    cols.update({k: list(v) for k, v in extra.items()})
    return pd.DataFrame(cols).to_dict("records")


def anonymous_records(view: pd.DataFrame) -> list[dict]:
    """Records ``{"id", "prompt", "chosen", "rejected"}`` of the anonymous view (TRL columns)."""
    if len(view) == 0:
        raise InputError("the anonymous view is empty: no pair to train DPO on")
    return _records(view["pair_id"], view["prompt"], view["chosen"], view["rejected"])


def type_columns(per_type: pd.DataFrame) -> list[str]:
    """The per-type view's label columns (``label_<type>``), in their order."""
    cols = [c for c in per_type.columns if str(c).startswith(LABEL_PREFIX)]
    if len(cols) < 2:
        raise ValueError(f"the per-type view needs a label column per type ({LABEL_PREFIX}<type>, at least two), "
                         f"got columns {list(per_type.columns)}")
    return cols


def per_type_labels(per_type: pd.DataFrame, table) -> np.ndarray:
    """The per-type view's labels relative to each pair's (response_a, response_b) of the table,
    [pairs, types] floats: +1 a preferred, −1 b, 0 tie or undecided, NaN missing. The view writes its
    labels relative to its own (chosen, rejected) (``chosen_id``); a frame without ``chosen_id`` is
    taken as already relative to (a, b)."""
    labels = per_type[type_columns(per_type)].to_numpy(dtype=float, na_value=np.nan)
    if "chosen_id" not in per_type.columns:
        return labels
    a_ids = _pairs(table).loc[per_type["pair_id"], "response_a_id"].astype(str).to_numpy()
    sign = np.where(per_type["chosen_id"].astype(str).to_numpy() == a_ids, 1.0, -1.0)
    return labels * sign[:, None]


def unanimous_records(per_type: pd.DataFrame, table) -> tuple[list[dict], int]:
    """(records, k): the unanimous pairs of the per-type view (every one of the k types labelled the
    pair, all for the same response) oriented towards the response every type preferred, and k, the
    number of types (the consistent loss's temperature, Eq. 20)."""
    cols = type_columns(per_type)
    labels = per_type_labels(per_type, table)
    all_a, all_b = (labels == 1).all(axis=1), (labels == -1).all(axis=1)
    keep = all_a | all_b
    log.info("per-type view: %d pairs, %d unanimous (%d for a, %d for b) over %d types %s; %d not unanimous "
             "(a disagreement, a tie, an undecided or a missing type) are not used by the consistent loss",
             len(per_type), int(keep.sum()), int(all_a.sum()), int(all_b.sum()), len(cols), cols, int((~keep).sum()))
    if not keep.any():
        raise InputError(f"no unanimous pair among the {len(per_type)} pairs of the per-type view ({len(cols)} types): "
                         "nothing to train the consistent loss on")
    ids = per_type["pair_id"].to_numpy()[keep]
    pairs = _pairs(table).loc[ids]
    a_wins = all_a[keep]
    chosen = np.where(a_wins, pairs["response_a"], pairs["response_b"])
    rejected = np.where(a_wins, pairs["response_b"], pairs["response_a"])
    return _records(ids, pairs["prompt"], chosen, rejected), len(cols)


# ----------------------------------------------------------------------------- Eq. 19's variance


@dataclass(frozen=True)
class VarianceConfig:
    """The Eq. 19 joint model's fit: K latent types, Adam steps, mini-batch, learning rate, seed."""
    latent_types: int = 4
    steps: int = 2000
    batch_size: int = 256
    lr: float = 0.05
    seed: int = 0

    def __post_init__(self):
        for name in ("latent_types", "steps", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"variance.{name} must be an integer ≥ 1, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"variance.lr must be > 0, got {self.lr!r}")


@dataclass
class VarianceModel:
    """The fitted joint model and the dense cell number of each (prompt_id, response_id)."""
    model: object
    cells: pd.Index  # keys "<prompt_id>\x1f<response_id>"
    info: dict


def _cell_keys(prompt_ids, response_ids) -> pd.Index:
    prompts = pd.Series(prompt_ids, dtype=str).to_numpy()
    return pd.Index(prompts + "\x1f" + pd.Series(response_ids, dtype=str).to_numpy())


def _first_preferred(labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(first option preferred, decided) of same-annotator labels: "a"/"b"/"tie" or +1/−1/0."""
    v = labels.astype(object)
    first = v.isin(["a", 1, 1.0]).to_numpy()
    decided = first | v.isin(["b", -1, -1.0]).to_numpy()
    return first, decided


def fit_variance_model(same_pairs: pd.DataFrame, table, cfg: VarianceConfig = VarianceConfig()) -> VarianceModel:
    """Fit Eq. 19's latent-type joint model on the same-annotator pairs view (``pair_id_1``,
    ``pair_id_2``, ``label_1``, ``label_2``) by cross-entropy of q(pair 1; pair 2) against o·o'
    (both first options preferred). Pairs with a tie on either side carry no o·o' and are left out
    (counted in ``info``)."""
    from ..synthetic.optim import optimise
    from ..synthetic.variance import LatentTypeJointModel, joint_cross_entropy

    first1, dec1 = _first_preferred(same_pairs["label_1"])
    first2, dec2 = _first_preferred(same_pairs["label_2"])
    used = dec1 & dec2
    n_tie = int((~used).sum())
    if n_tie:
        log.info("same-annotator pairs: %d of %d left out of the Eq. 19 fit (a tie on one side: no o·o')", n_tie,
                 len(same_pairs))
    if not used.any():
        raise InputError(f"none of the {len(same_pairs)} same-annotator pairs has two decided labels: the Eq. 19 "
                         "variance cannot be estimated")
    sp = same_pairs.loc[used]
    pairs = _pairs(table)
    p1, p2 = pairs.loc[sp["pair_id_1"]], pairs.loc[sp["pair_id_2"]]
    all_pairs = pairs.reset_index()
    cells = _cell_keys(pd.concat([all_pairs["prompt_id"]] * 2),
                       pd.concat([all_pairs["response_a_id"], all_pairs["response_b_id"]])).unique()

    def index(frame, side):
        return torch.as_tensor(cells.get_indexer(_cell_keys(frame["prompt_id"], frame[f"response_{side}_id"])))

    a1, b1, a2, b2 = index(p1, "a"), index(p1, "b"), index(p2, "a"), index(p2, "b")
    target = torch.as_tensor(first1[used] & first2[used], dtype=torch.float32)
    model = LatentTypeJointModel(cfg.latent_types, 1, len(cells), cfg.seed, rewards="tabular")

    def loss_of(i, step):
        q = model.joint((a1[i], b1[i]), (a2[i], b2[i]))
        return joint_cross_entropy(q, target[i])

    traj = optimise(model, loss_of, len(target), cfg.steps, min(cfg.batch_size, len(target)), cfg.lr, cfg.seed,
                    log_every=max(1, cfg.steps // 20), what="Eq. 19 joint-model")
    touched = np.unique(torch.cat([a1, b1, a2, b2]).numpy())
    info = {"n_same_annotator_pairs": int(len(same_pairs)), "n_fit_pairs": int(used.sum()), "n_left_out_tie": n_tie,
            "n_cells": int(len(cells)), "n_cells_fitted": int(len(touched)), "final_loss": traj[-1][1],
            "loss_trajectory": traj, "config": cfg.__dict__}
    log.info("Eq. 19 joint model: %d latent types on %d (prompt, response) cells (%d in a same-annotator pair), "
             "%d pairs of pairs, final cross-entropy %.4f", cfg.latent_types, len(cells), len(touched),
             int(used.sum()), traj[-1][1])
    return VarianceModel(model, cells, info)


@torch.no_grad()
def pair_variance(vm: VarianceModel, table, pair_ids) -> np.ndarray:
    """V̂ = Var_u[σ(Δ_u)] (Eq. 19: a − m², clamped at 0) of each pair in ``pair_ids``; symmetric in
    the pair's orientation, so it does not matter which response a record calls chosen."""
    p = _pairs(table).loc[list(pair_ids)]
    a = vm.cells.get_indexer(_cell_keys(p["prompt_id"], p["response_a_id"]))
    b = vm.cells.get_indexer(_cell_keys(p["prompt_id"], p["response_b_id"]))
    if (a < 0).any() or (b < 0).any():
        raise ValueError("pairs outside the table the variance model was fitted on")
    return vm.model.sigmoid_variance(torch.as_tensor(a), torch.as_tensor(b)).double().numpy()


def corrected_records(view: pd.DataFrame, vm: VarianceModel, table) -> list[dict]:
    """The anonymous view's records, each with its ``variance`` (corrected DPO's V̂)."""
    records = anonymous_records(view)
    v = pair_variance(vm, table, view["pair_id"])
    for r, x in zip(records, v.tolist()):
        r["variance"] = x
    return records
