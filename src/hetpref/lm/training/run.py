"""One LM run as one typed value (:class:`LMRun`): what :func:`~hetpref.lm.training.launch.run_job`,
:func:`~hetpref.lm.training.train.train`, :func:`hetpref.lm.models.build` and the evaluation take.

It is built once, from the workflow's params (:meth:`LMRun.from_params`, used by
``workflow_scripts/lm_train.py``), travels to torchrun's ranks as JSON (:meth:`LMRun.to_json` /
:meth:`LMRun.from_json`), and derives what follows from the objective: the :attr:`~LMRun.kind` of
model (``causal_lm`` or ``reward``, :data:`hetpref.lm.names.OBJECTIVE_SPECS`) and the loss
(:attr:`~LMRun.loss`, :func:`~hetpref.lm.training.config.loss_for`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from ..names import objective_spec
from .config import LMTrainConfig, loss_for

PARAMS = ("model", "tiny", "train", "device")  # the lm_train rule's params an LMRun is built from


@dataclass(frozen=True)
class LMRun:
    """One training run of the LM stage (docs/spec.md §8).

    ``objective``: the workflow's objective (``reward``, ``dpo``, ``ipo``, ``dpo_ref``, ...:
    :data:`hetpref.lm.names.OBJECTIVE_SPECS`); ``dataset``: the training set's name (its loss,
    :func:`~hetpref.lm.training.config.loss_for`); ``model``: the model spec, ``tiny`` its shape
    when it is ``tiny`` (keys of :data:`hetpref.lm.models.TINY_DEFAULTS`); ``train``: the
    hyper-parameters; ``out_dir``: the run folder (``adapter/``, ``metrics.json``, ...);
    ``records``: the training JSONL (what :func:`~hetpref.lm.training.launch.run_job` reads;
    None when the caller passes the records); ``tokenizer_dir``: the tokenizer folder (None:
    the spec's own); ``device``: ``cpu``, ``cuda`` or ``auto``; ``keep_checkpoint``: keep the last
    checkpoint after success (the caller removes it once what follows, e.g. the evaluation, has
    succeeded too)."""
    objective: str
    dataset: str
    seed: int
    model: str
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    out_dir: str = "."
    tiny: dict | None = None
    records: str | None = None
    tokenizer_dir: str | None = None
    device: str = "auto"
    keep_checkpoint: bool = False

    def __post_init__(self):
        _, scoring, loss = objective_spec(self.objective)  # a ValueError naming the allowed objectives
        # the objective's own loss (ipo) and scoring (the DPO variants) are part of the run; "dpo"
        # and "reward" leave both to the train config (plain DPO scores with response_sum)
        train = self.train
        if loss is not None and train.loss != loss:
            if train.loss is not None:
                raise ValueError(f"objective {self.objective!r} trains with loss {loss!r}, not LMTrainConfig.loss = "
                                 f"{train.loss!r}")
            train = replace(train, loss=loss)
        if scoring not in (None, "response_sum") and train.dpo_scoring != scoring:
            if train.dpo_scoring != "response_sum":
                raise ValueError(f"objective {self.objective!r} scores with {scoring!r}, not "
                                 f"LMTrainConfig.dpo_scoring = {train.dpo_scoring!r}")
            train = replace(train, dpo_scoring=scoring)
        object.__setattr__(self, "train", train)
        if isinstance(self.seed, bool) or int(self.seed) != self.seed:
            raise ValueError(f"LMRun.seed must be an integer, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "out_dir", str(self.out_dir))
        for name in ("records", "tokenizer_dir"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, str(getattr(self, name)))
        if self.kind == "reward" and self.train.dpo_scoring != "response_sum":
            raise ValueError(f"LMTrainConfig.dpo_scoring = {self.train.dpo_scoring!r} applies to policies; a reward "
                             "model scores with its head")
        loss_for(self.kind, self.dataset, self.train)  # a ValueError naming a dataset that is no training set

    @property
    def kind(self) -> str:
        """``causal_lm`` (a policy π) or ``reward`` (a scalar reward head): what the objective trains."""
        return objective_spec(self.objective)[0]

    @property
    def loss(self) -> tuple[str, dict]:
        """(loss name, loss params) the run trains with (:func:`~hetpref.lm.training.config.loss_for`)."""
        return loss_for(self.kind, self.dataset, self.train)

    @property
    def scoring(self) -> str:
        """How a policy's sequence is scored, in training and evaluation (``train.dpo_scoring``)."""
        return self.train.dpo_scoring

    @classmethod
    def from_params(cls, objective: str, dataset: str, seed, params, *, records=None, tokenizer_dir=None,
                    out_dir, keep_checkpoint: bool = False) -> "LMRun":
        """The run of an ``lm_train`` job: its wildcards (``objective``, ``dataset``, ``seed``) and
        its rule's params (``model``, ``tiny``, ``train`` — LMTrainConfig fields —, ``device``; a
        mapping or Snakemake's params object)."""
        missing = [k for k in PARAMS if k not in set(params.keys())]
        if missing:
            raise ValueError(f"lm_train params lack {missing}; an LM run is built from {list(PARAMS)}")
        return cls(objective=objective, dataset=dataset, seed=int(seed), model=params["model"],
                   train=LMTrainConfig(**dict(params["train"] or {})), out_dir=str(out_dir), tiny=params["tiny"],
                   records=records, tokenizer_dir=tokenizer_dir, device=params["device"],
                   keep_checkpoint=keep_checkpoint)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "LMRun":
        """The run written by :meth:`to_json`; unknown or missing keys are one error naming them."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted({"objective", "dataset", "seed", "model"} - set(data))
        if unknown or missing:
            raise ValueError(f"LM run JSON: unknown keys {unknown}, missing keys {missing}; "
                             f"a run names {sorted(names)}")
        return cls(**{**data, "train": LMTrainConfig(**(data.get("train") or {}))})
