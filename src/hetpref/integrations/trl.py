"""TRL integration: a ``trl.DPOTrainer`` whose loss is one of hetpref's (docs/spec.md §4).

:class:`HetprefDPOTrainer` keeps TRL's data pipeline (tokenisation, truncation, padding, the fused
LM head, PEFT, the reference model or its precomputed log-probabilities) and replaces the loss by
:func:`hetpref.losses.preference_loss`, the one definition of every formula:

- ``dpo``: −log σ(h) (Eq. 6), for comparison;
- ``consistent``: −log σ(k·h) on unanimous pairs (Eq. 20), k the number of types;
- ``corrected_dpo``: the first-order corrected DPO with a per-pair variance column and ``alpha``.

``h = β[(log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x))]``, each log π the
sum of the response tokens' log-probabilities with the causal shift (the logits at t − 1 score
token t), the score ``hetpref.lm.training.scoring.sequence_logprobs`` defines. ``reference="uniform"``
drops the π_ref terms (they cancel in h), with no reference model loaded or run.

Columns (per row of the training set; the names are config fields):

- ``label_<type>`` ∈ {+1, −1, 0}: type's judgement, +1 = the ``chosen`` response preferred,
  −1 = ``rejected``, 0 = a tie. With these columns the consistent loss keeps the pairs where every
  type gave the same non-tie label, orients h towards that response and leaves the others out
  (counted at start-up and logged as ``hetpref/unanimous_share``). Without them every row is taken
  as unanimous with ``chosen`` the response all types preferred.
- ``n_types``: k per pair (else the config's ``n_types``, else the number of ``label_*`` columns).
- ``variance``: V̂ of the pair for ``corrected_dpo``; by default (``variance_kind="sigmoid"``)
  Var_u[σ(Δ_u)], what Eq. 19's paired-preference estimator gives.
- ``pair_id``, ``annotator_id`` and any ``carry_columns``: passed through unchanged.

Identification caveat: the consistent loss targets the average reward only when the per-type
labels come from *fixed* types; k labels from random anonymous raters filtered for unanimity bring
back DPO's normalised-Borda-count target.

TRL removes every column its forward does not name and its collator drops unknown keys; the
trainer adds the columns above to the kept ("signature") columns and wraps the collator in
:class:`CarryColumnsCollator`, which puts them in the batch (numbers as tensors, others as lists).
The TRL internals relied on are pinned by ``tests/unit/test_trl_contract.py``.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

try:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
except ImportError as err:  # the optional extra is not installed
    raise ImportError("hetpref.integrations.trl needs TRL and datasets: install them with "
                      "`pip install hetpref[trl]` (pins trl==1.16.0)") from err

from hetpref.losses import preference_loss, unanimous_mask

log = logging.getLogger(__name__)

HETPREF_LOSSES = ("dpo", "consistent", "corrected_dpo")
REFERENCES = ("model", "uniform")
DEFAULT_CARRY = ("pair_id", "annotator_id")
# batch keys DPOTrainer's collator adds that are not model inputs (as in DPOTrainer._compute_loss)
TRL_NON_MODEL_KEYS = ("completion_mask", "ref_chosen_logps", "ref_rejected_logps")


@dataclass
class HetprefDPOConfig(DPOConfig):
    """A :class:`trl.DPOConfig` plus the hetpref loss and its columns (``beta`` is TRL's β of h)."""

    hetpref_loss: str = field(default="dpo", metadata={
        "help": "The loss of hetpref.losses: 'dpo' (Eq. 6), 'consistent' (Eq. 20) or 'corrected_dpo'.",
        "choices": list(HETPREF_LOSSES)})
    reference: str = field(default="model", metadata={
        "help": "'model': TRL's reference (ref_model, or the initial policy / the PEFT base); "
                "'uniform': no reference, h = β[log π(y_w|x) − log π(y_l|x)].",
        "choices": list(REFERENCES)})
    n_types: int | None = field(default=None, metadata={
        "help": "k of the consistent loss when the data has no n_types column (default: the number of "
                "label_* columns)."})
    alpha: float = field(default=1.0, metadata={"help": "corrected_dpo's α (0 = DPO, 1 = the theory)."})
    variance_kind: str = field(default="sigmoid", metadata={
        "help": "What the variance column estimates: 'sigmoid' = Var_u[σ(Δ_u)] (Eq. 19), 'delta' = Var_u(Δ_u).",
        "choices": ["sigmoid", "delta"]})
    correction_clamp: float | None = field(default=None, metadata={
        "help": "Bound the correction term to [−c, c] (the reference code uses 0.1); None = no bound."})
    correction_eps: float = field(default=1e-6, metadata={
        "help": "corrected_dpo's likelihood is clamped into [ε, 1 − ε] before the log."})
    variance_column: str = field(default="variance", metadata={"help": "Column of the per-pair variance."})
    n_types_column: str = field(default="n_types", metadata={"help": "Column of the per-pair number of types k."})
    label_prefix: str = field(default="label_", metadata={
        "help": "Prefix of the per-type label columns (+1 chosen, −1 rejected, 0 tie)."})
    carry_columns: list[str] | None = field(default=None, metadata={
        "help": "Extra columns passed through to compute_loss (default: pair_id and annotator_id when present)."})

    def __post_init__(self):
        super().__post_init__()
        _one_of("hetpref_loss", self.hetpref_loss, HETPREF_LOSSES)
        _one_of("reference", self.reference, REFERENCES)
        _one_of("variance_kind", self.variance_kind, ("sigmoid", "delta"))
        if self.n_types is not None and (int(self.n_types) != self.n_types or self.n_types < 1):
            raise ValueError(f"HetprefDPOConfig.n_types = {self.n_types!r}; expected an integer ≥ 1 or None")
        if not 0 < self.correction_eps < 0.5:
            raise ValueError(f"HetprefDPOConfig.correction_eps = {self.correction_eps!r}; expected a value in (0, 0.5)")
        if self.correction_clamp is not None and not self.correction_clamp > 0:
            raise ValueError(f"HetprefDPOConfig.correction_clamp = {self.correction_clamp!r}; expected > 0 or None")
        # TRL's own loss options: hetpref_loss replaces TRL's loss, so each would be silently ignored
        ignored = {"loss_type": (self.loss_type, ["sigmoid"]), "loss_weights": (self.loss_weights, None),
                   "ld_alpha": (self.ld_alpha, None), "f_divergence_type": (self.f_divergence_type, "reverse_kl"),
                   "use_weighting": (self.use_weighting, False), "label_smoothing": (self.label_smoothing, 0.0)}
        for name, (value, default) in ignored.items():
            if value != default:
                raise ValueError(f"HetprefDPOConfig.{name} = {value!r}: TRL's loss options do not apply, the loss "
                                 f"is hetpref_loss={self.hetpref_loss!r}; expected the default {default!r}")
        if self.reference == "uniform" and (self.precompute_ref_log_probs or self.sync_ref_model):
            raise ValueError("HetprefDPOConfig.reference = 'uniform' has no reference model: expected "
                             "precompute_ref_log_probs=False and sync_ref_model=False")


def _one_of(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"HetprefDPOConfig.{name} = {value!r}; expected one of {', '.join(map(repr, allowed))}")


@dataclass
class CarryColumnsCollator:
    """TRL's collator plus the carried columns: ``collator(examples)`` (which ignores unknown keys)
    and, for each column, the examples' values as a tensor when numeric, else as a list."""

    collator: Callable[[list[dict[str, Any]]], dict[str, Any]]
    columns: tuple[str, ...]

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        missing = [c for c in self.columns if c not in examples[0]]
        if missing:  # e.g. a dataset passed to evaluate() without the training set's columns
            raise ValueError(f"CarryColumnsCollator: the examples have no column(s) {missing}; expected the "
                             f"columns {list(self.columns)} of the training set, they have {sorted(examples[0])}")
        batch = self.collator(examples)
        for column in self.columns:
            values = [example[column] for example in examples]
            array = np.asarray(values) if all(isinstance(v, (bool, int, float, np.number)) for v in values) else None
            batch[column] = torch.as_tensor(array) if array is not None and array.dtype.kind in "biuf" else values
        return batch


@dataclass(frozen=True)
class _Columns:
    """Which columns the loss reads and which travel to compute_loss."""

    labels: tuple[str, ...]
    n_types: str | None
    variance: str | None
    carried: tuple[str, ...]


def _columns(args: HetprefDPOConfig, names: list[str], where: str) -> _Columns:
    labels = tuple(c for c in names if c.startswith(args.label_prefix))
    n_types = args.n_types_column if args.n_types_column in names else None
    variance = args.variance_column if args.variance_column in names else None
    wanted = args.carry_columns if args.carry_columns is not None else [c for c in DEFAULT_CARRY if c in names]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"{where}: carry_columns {missing} are not columns of the dataset; it has {names}")
    if args.hetpref_loss == "corrected_dpo" and variance is None:
        raise ValueError(f"{where}: hetpref_loss='corrected_dpo' needs the per-pair variance column "
                         f"{args.variance_column!r} (variance_column); the dataset has {names}")
    if args.hetpref_loss == "consistent":
        if n_types is None and args.n_types is None and not labels:
            raise ValueError(f"{where}: hetpref_loss='consistent' needs k: a column {args.n_types_column!r}, "
                             f"per-type columns {args.label_prefix}<type>, or HetprefDPOConfig.n_types; "
                             f"the dataset has {names}")
        if labels and args.n_types is not None and n_types is None and args.n_types != len(labels):
            raise ValueError(f"{where}: HetprefDPOConfig.n_types = {args.n_types} but the dataset has "
                             f"{len(labels)} per-type label columns {list(labels)}; expected them to agree")
    carried = tuple(dict.fromkeys([*wanted, *labels, *(c for c in (n_types, variance) if c)]))
    return _Columns(labels, n_types, variance, carried)


def _check_values(dataset, cols: _Columns, args: HetprefDPOConfig, where: str) -> None:
    """One clear error for the first bad value of a loss column (1-based row); the unanimous count logged."""
    if not isinstance(dataset, Dataset):  # an IterableDataset cannot be read ahead
        log.info("%s: an iterable dataset, its loss columns are not checked ahead of training", where)
        return

    def first_bad(column: str, ok: np.ndarray, expected: str) -> None:
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            raise ValueError(f"{where}: row {row + 1}, column {column!r}: value {dataset[row][column]!r}; "
                             f"expected {expected}")

    def numbers(column: str) -> np.ndarray:
        return np.asarray([np.nan if v is None else v for v in dataset[column]], dtype=float)

    if cols.variance is not None:
        v = numbers(cols.variance)
        first_bad(cols.variance, np.isfinite(v) & (v >= 0), "a finite variance ≥ 0")
    if cols.n_types is not None:
        k = numbers(cols.n_types)
        first_bad(cols.n_types, np.isfinite(k) & (k >= 1) & (k == np.round(k)), "an integer number of types ≥ 1")
    if cols.labels:
        labels = np.stack([numbers(c) for c in cols.labels], axis=1)
        for j, column in enumerate(cols.labels):
            first_bad(column, np.isin(labels[:, j], (-1, 0, 1)),
                      "a per-type label in {+1 (chosen), -1 (rejected), 0 (tie)}; a type missing on a "
                      "pair has no label (build the per-type view with missing='drop')")
        if args.hetpref_loss == "consistent":
            unanimous = int(((labels == 1).all(1) | (labels == -1).all(1)).sum())
            if unanimous == 0:
                raise ValueError(f"{where}: none of the {len(labels)} pairs is unanimous across the "
                                 f"{len(cols.labels)} types {list(cols.labels)}; the consistent loss (Eq. 20) "
                                 "trains on unanimous pairs only")
            log.info("%s: %d of %d pairs are not unanimous across the types %s and are left out of the "
                     "consistent loss (Eq. 20)", where, len(labels) - unanimous, len(labels), list(cols.labels))


class HetprefDPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` with hetpref's loss (see the module docstring); ``args`` must be a
    :class:`HetprefDPOConfig`. Every other argument is DPOTrainer's.

    ``reference="uniform"``: TRL loads a reference model when none is given, no PEFT adapter can be
    disabled and the reference log-probabilities are not precomputed. The trainer therefore builds
    TRL with ``precompute_ref_log_probs=True`` on a copy of ``args`` and precomputes nothing
    (:meth:`_precompute_ref_logps`), so no reference is loaded (except transiently under FSDP,
    where TRL loads and frees it) and the flag is set back afterwards; TRL hashes the model's
    weights once on the way (its cache key for precomputed log-probabilities).
    """

    def __init__(self, model, ref_model=None, args: HetprefDPOConfig | None = None, data_collator=None,
                 train_dataset=None, eval_dataset=None, **kwargs):
        if not isinstance(args, HetprefDPOConfig):
            raise TypeError(f"HetprefDPOTrainer: args must be a HetprefDPOConfig, got {type(args).__name__}")
        if train_dataset is None:
            raise ValueError("HetprefDPOTrainer: train_dataset is required")
        datasets = {"train_dataset": train_dataset}
        if isinstance(eval_dataset, dict):
            datasets.update({f"eval_dataset[{name!r}]": d for name, d in eval_dataset.items()})
        elif eval_dataset is not None:
            datasets["eval_dataset"] = eval_dataset
        for where, dataset in datasets.items():
            names = list(dataset.column_names or next(iter(dataset)).keys())
            if "image" in names or "images" in names:
                raise ValueError(f"{where}: image columns found; HetprefDPOTrainer supports text datasets only")
            cols = _columns(args, names, where)
            _check_values(dataset, cols, args, where)
            if where == "train_dataset":
                self._hetpref_columns = cols
            elif set(cols.carried) != set(self._hetpref_columns.carried):
                raise ValueError(f"{where}: columns {sorted(cols.carried)} differ from the train_dataset's "
                                 f"{sorted(self._hetpref_columns.carried)}; expected the same loss and carried columns")
        if args.reference == "uniform":
            if ref_model is not None:
                raise ValueError("HetprefDPOTrainer: reference='uniform' takes no ref_model; pass reference='model' "
                                 "to use it")
            trl_args = copy.copy(args)  # the user's config is left as it is
            trl_args.precompute_ref_log_probs = True  # TRL's only path that loads no reference (class docstring)
        else:
            trl_args = args
        super().__init__(model, ref_model=ref_model, args=trl_args, data_collator=data_collator,
                         train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)
        if args.reference == "uniform":
            self.args.precompute_ref_log_probs = False
            self.precompute_ref_logps = False
        self.data_collator = CarryColumnsCollator(self.data_collator, self._hetpref_columns.carried)

    # ------------------------------------------------------------------ TRL hooks
    def _set_signature_columns_if_needed(self):
        """TRL keeps its tokenised columns only; the carried columns are kept too."""
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *self._hetpref_columns.carried]))

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        """With the uniform reference there is nothing to precompute (see the class docstring)."""
        if self.args.reference == "uniform":
            return dataset
        return super()._precompute_ref_logps(dataset, name, batch_size)

    def compute_ref_log_probs(self, model, inputs):
        """TRL's reference log-probabilities, the carried columns kept out of the model's inputs."""
        return super().compute_ref_log_probs(model, self._without_carried(inputs))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """hetpref's loss of the batch: the policy's (and the reference's) summed response-token
        log-probabilities as TRL computes them, h, then :func:`hetpref.losses.preference_loss`."""
        mode = "train" if self.model.training else "eval"
        model_inputs = self._without_carried(inputs)
        model_kwargs = {k: v for k, v in model_inputs.items() if k not in TRL_NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        if self.aux_loss_enabled:
            model_kwargs["output_router_logits"] = True
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)
        # log_probs[:, t] scores token t + 1 (the causal shift); prompt-learning PEFT prepends positions
        logps = outputs.log_probs[:, -(completion_mask.shape[1] - 1):].sum(dim=1)
        chosen_logps, rejected_logps = logps.chunk(2, dim=0)  # the batch is [chosen..., rejected...]
        ref_chosen, ref_rejected = self._reference_logps(model_inputs)
        h = self.beta * ((chosen_logps - ref_chosen) - (rejected_logps - ref_rejected))
        loss, kept = self.hetpref_loss(h, inputs)
        if self.aux_loss_enabled:
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss
        self._log_batch(mode, h, kept, chosen_logps, rejected_logps)
        if return_outputs:  # as DPOTrainer: the fused head builds no logits, so a plain forward gives them
            with torch.no_grad():
                outputs = model(**model_kwargs)
            return loss, outputs
        return loss

    # ------------------------------------------------------------------ hetpref's loss
    def hetpref_loss(self, h: torch.Tensor, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean loss over the kept pairs, kept mask) of ``h`` (chosen first) for ``args.hetpref_loss``."""
        args, cols = self.args, self._hetpref_columns
        if args.hetpref_loss == "dpo":
            return preference_loss("dpo", h).mean(), torch.ones_like(h, dtype=torch.bool)
        if args.hetpref_loss == "corrected_dpo":
            variance = inputs[cols.variance].to(device=h.device, dtype=h.dtype)
            per_pair = preference_loss("corrected_dpo", h, variance=variance, alpha=args.alpha,
                                       variance_kind=args.variance_kind, correction_clamp=args.correction_clamp,
                                       eps=args.correction_eps)
            return per_pair.mean(), torch.ones_like(h, dtype=torch.bool)
        # consistent (Eq. 20): unanimous pairs, h oriented towards the response every type preferred
        if cols.labels:
            labels = torch.stack([inputs[c].to(h.device) for c in cols.labels], dim=-1)
            kept, sign = unanimous_mask(labels == 1)
            kept = kept & (labels != 0).all(dim=-1)  # a tie is no unanimous preference
            h = sign.to(h) * h
        else:
            kept = torch.ones_like(h, dtype=torch.bool)
        if cols.n_types is not None:
            k = inputs[cols.n_types].to(h.device).long()
        else:
            k = torch.full_like(h, args.n_types if args.n_types is not None else len(cols.labels), dtype=torch.long)
        per_pair = h * 0  # kept in the graph: a batch without unanimous pairs gives a zero gradient
        for n_types in torch.unique(k[kept]).tolist():  # one call per distinct k, not per pair
            per_pair = torch.where(kept & (k == n_types), preference_loss("consistent", h, n_types=int(n_types)),
                                   per_pair)
        return per_pair.sum() / kept.sum().clamp(min=1), kept

    def _reference_logps(self, model_inputs):
        if self.args.reference == "uniform":
            return 0.0, 0.0  # log π_ref(y|x) is the same for every y: it cancels in h
        if self.precompute_ref_logps:
            return model_inputs["ref_chosen_logps"], model_inputs["ref_rejected_logps"]
        return self.compute_ref_log_probs(self.ref_model if self.ref_model is not None else self.model, model_inputs)

    def _without_carried(self, inputs: dict[str, Any]) -> dict[str, Any]:
        carried = set(self._hetpref_columns.carried)
        return {k: v for k, v in inputs.items() if k not in carried}

    def _log_batch(self, mode: str, h, kept, chosen_logps, rejected_logps) -> None:
        """TRL's reward metrics of h (averaged by DPOTrainer.log), and the unanimous share."""
        gather = self.accelerator.gather_for_metrics
        metrics = self._metrics[mode]
        h = h.detach()
        metrics["rewards/margins"].append(gather(h).mean().item())
        metrics["rewards/accuracies"].append(gather((h > 0).float()).mean().item())
        metrics["logps/chosen"].append(gather(chosen_logps.detach()).mean().item())
        metrics["logps/rejected"].append(gather(rejected_logps.detach()).mean().item())
        if self.args.hetpref_loss == "consistent":
            metrics["hetpref/unanimous_share"].append(gather(kept.float()).mean().item())
