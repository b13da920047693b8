"""Trainers of the synthetic experiment's policies (§7.2): DPO, IPO, first-order corrected DPO and
the consistent loss (Eq. 20); their configurations are in :mod:`hetpref.synthetic.config`.
Corrected DPO's variance term (Eq. 19's joint model, or the oracle) comes from
:mod:`hetpref.synthetic.variance`.

Every trainer minimises a loss from :mod:`hetpref.losses` on ``h = β[log π(y_w|x) − log π(y_l|x)]``
(uniform π_ref cancels) with Adam on random mini-batches. Runs are deterministic for a seed.
The methods of one dataset (DPO, IPO, corrected DPO at several α and with either variance, the
consistent loss) are trained side by side as one :class:`PolicyStack`, each on the batches a run
of its own would draw, which equals separate runs (tested) at a fraction of their cost.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..losses import preference_loss, unanimous_mask
from .config import CorrectionConfig, TrainConfig
from .data import Pairs, anonymous_labels, flat_index, generator, per_type_labels
from .optim import optimise
from .variance import LatentTypeJointModel


class TabularPolicy(nn.Module):
    def __init__(self, n_contexts: int, n_responses: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_contexts, n_responses))

    def logit_table(self):
        """Unnormalised log π(y|x) for every (x, y), [X, N]."""
        return self.logits


class MLPPolicy(nn.Module):
    """The reference run's policy: an MLP on one-hot x. A linear layer on a one-hot input is a
    row lookup, so the first layer is an embedding (same function, no [batch, N] one-hot)."""

    def __init__(self, n_contexts: int, n_responses: int, hidden=(15, 15)):
        super().__init__()
        self.first = nn.Embedding(n_contexts, hidden[0])
        self.first_bias = nn.Parameter(torch.zeros(hidden[0]))
        nn.init.uniform_(self.first.weight, -1 / math.sqrt(n_contexts), 1 / math.sqrt(n_contexts))
        layers = []
        for a, b in zip(hidden[:-1], hidden[1:]):
            layers += [nn.ReLU(), nn.Linear(a, b)]
        layers += [nn.ReLU(), nn.Linear(hidden[-1], n_responses)]
        self.rest = nn.Sequential(*layers)

    def logit_table(self):
        """Unnormalised log π(y|x) for every (x, y), [X, N]: the MLP on all one-hot contexts."""
        return self.rest(self.first.weight + self.first_bias)


def make_policy(cfg: TrainConfig, n_contexts: int, n_responses: int, seed: int) -> nn.Module:
    torch.manual_seed(generator(seed, "init").initial_seed())
    if cfg.policy == "tabular":
        return TabularPolicy(n_contexts, n_responses)
    return MLPPolicy(n_contexts, n_responses, cfg.hidden)


class PolicyStack(nn.Module):
    """M copies of one freshly initialised policy, trained side by side on the same batches.

    Adam acts elementwise and each copy's loss reaches only its own parameters, so the copies
    follow exactly the trajectories of M separate runs from the same initialisation (tested);
    the per-step cost is close to one run's, which is what makes many α per job cheap."""

    def __init__(self, cfg: TrainConfig, n_contexts: int, n_responses: int, seed: int, copies: int):
        super().__init__()
        if copies < 1:
            raise ValueError(f"a policy stack needs ≥ 1 copy, got {copies}")
        base = make_policy(cfg, n_contexts, n_responses, seed)
        if isinstance(base, TabularPolicy):
            self.logits = nn.Parameter(base.logits.detach().clone().expand(copies, -1, -1).contiguous())
            self.members = None
        else:
            self.logits = None
            self.members = nn.ModuleList([copy.deepcopy(base) for _ in range(copies)])

    def logit_tables(self) -> torch.Tensor:
        """Unnormalised log π(y|x) of every copy, [M, X, N]."""
        if self.members is None:
            return self.logits
        return torch.stack([m.logit_table() for m in self.members])


@dataclass
class TrainResult:
    policy: torch.Tensor            # π(y|x), [X, N]
    loss_trajectory: list           # [(step, mean loss over the window)]
    info: dict                      # method-specific facts (fraction of data used, ...)
    seconds: float


def orient_by_label(pairs: Pairs, labels: torch.Tensor):
    """(x, y_w, y_l) from pairs and 0/1 labels (1 = y1 preferred)."""
    win = labels.bool()
    return pairs.x, torch.where(win, pairs.y1, pairs.y2), torch.where(win, pairs.y2, pairs.y1)


# ---------------------------------------------------------------- arms trained side by side
@dataclass
class Arm:
    """One method of a stacked run. ``loss`` names a loss of
    :func:`hetpref.losses.preference_loss`: dpo, ipo and corrected_dpo learn from the anonymous
    labels; the consistent losses (Eq. 20) from the unanimous pairs of the one-label-per-type data.
    ``loss_params`` holds its scalar parameters (``tau``; ``alpha``, ``correction_clamp``,
    ``eps``); ``variance`` the per-preference Var_u[σ(Δ_u)] for corrected DPO, [n];
    ``warmup_steps`` plain DPO steps first (corrected DPO); ``info`` is copied into the result."""

    name: str
    loss: str = "dpo"
    loss_params: dict = field(default_factory=dict)
    variance: torch.Tensor | None = None
    warmup_steps: int = 0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.loss not in ("dpo", "ipo", "corrected_dpo") and not self.loss.startswith("consistent"):
            raise ValueError(f"arm {self.name!r}: loss must be dpo, ipo, corrected_dpo or a consistent loss, "
                             f"got {self.loss!r}")
        if (self.loss == "corrected_dpo") != (self.variance is not None):
            raise ValueError(f"arm {self.name!r}: a variance is needed by, and only by, corrected_dpo")

    @property
    def data(self) -> str:
        return "unanimous" if self.loss.startswith("consistent") else "anonymous"


def _arm_groups(arms, indices, n_types):
    """Rows of the stack that share data, a loss and its scalar parameters (α may differ)."""
    groups = {}
    for i in indices:
        arm = arms[i]
        params = {k: v for k, v in arm.loss_params.items() if k != "alpha"}
        if arm.loss.startswith("consistent"):
            params.setdefault("n_types", n_types)
        key = (arm.loss, arm.warmup_steps, tuple(sorted(params.items())))
        groups.setdefault(key, []).append(i)
    out = []
    for (loss, warmup, params), rows in groups.items():
        group = {"loss": loss, "warmup": warmup, "params": dict(params), "rows": torch.tensor(rows)}
        if loss == "corrected_dpo":
            group["alpha"] = torch.tensor([[float(arms[i].loss_params.get("alpha", 1.0))] for i in rows])
            group["variance"] = torch.stack([arms[i].variance.float() for i in rows])  # [rows, n]
        out.append(group)
    return out


def _group_loss(g, h, i, step):
    if g["loss"] == "dpo" or (g["loss"] == "corrected_dpo" and step < g["warmup"]):
        return preference_loss("dpo", h)
    if g["loss"] == "corrected_dpo":
        return preference_loss("corrected_dpo", h, variance=g["variance"].index_select(1, i), alpha=g["alpha"],
                               variance_kind="sigmoid", **g["params"])
    return preference_loss(g["loss"], h, **g["params"])


def unanimous_data(rewards, pairs: Pairs, seed: int):
    """Maximum annotator information: each type labels each pair; the unanimous pairs, oriented
    towards the agreed winner, as (x, y_w, y_l), and their share of all pairs."""
    labels = per_type_labels(rewards, pairs, seed)
    keep, _ = unanimous_mask(labels)
    if keep.sum() == 0:
        raise ValueError("no unanimous pair in the data: increase the number of preferences")
    kept = Pairs(pairs.x[keep], pairs.y1[keep], pairs.y2[keep])
    return orient_by_label(kept, labels[:, 0][keep]), len(kept) / len(pairs)


def train_arms(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, arms: list) -> dict:
    """Every :class:`Arm` on one seed's data — anonymous labels (one random hidden type per pair)
    for DPO, IPO and corrected DPO, the unanimous pairs for the consistent losses — trained side
    by side as one :class:`PolicyStack`. Each arm gets the batches a run of its own would (one
    stream per dataset), so the result equals separate runs. Returns name → TrainResult."""
    t0 = time.perf_counter()
    if not arms:
        raise ValueError("train_arms needs at least one arm")
    if len({a.name for a in arms}) != len(arms):
        raise ValueError(f"arm names must be unique, got {[a.name for a in arms]}")
    for arm in arms:
        if arm.warmup_steps > cfg.steps:
            raise ValueError(f"warmup_steps ({arm.warmup_steps}) exceeds steps ({cfg.steps})")
        if arm.variance is not None and arm.variance.shape != (len(pairs),):
            raise ValueError(f"arm {arm.name!r}: variance has shape {tuple(arm.variance.shape)}, "
                             f"expected ({len(pairs)},)")
    n_ctx, n_resp = rewards.shape[1:]
    datasets, extra = [], {}
    for data in ("anonymous", "unanimous"):
        rows = [i for i, a in enumerate(arms) if a.data == data]
        if not rows:
            continue
        if data == "anonymous":
            labels, _ = anonymous_labels(rewards, pairs, seed)
            x, yw, yl = orient_by_label(pairs, labels)
        else:
            (x, yw, yl), fraction = unanimous_data(rewards, pairs, seed)
            extra = {"fraction_used": fraction, "n_unanimous": len(x)}
        datasets.append({"fw": flat_index(x, yw, n_resp), "fl": flat_index(x, yl, n_resp), "n": len(x),
                         "groups": _arm_groups(arms, rows, rewards.shape[0])})
    stack = PolicyStack(cfg, n_ctx, n_resp, seed, len(arms))

    def loss_of(indices, step):
        indices = indices if isinstance(indices, tuple) else (indices,)
        table = stack.logit_tables().reshape(len(arms), -1)
        rows, values = [], []
        for d, i in zip(datasets, indices):
            h = cfg.beta * (table.index_select(1, d["fw"].index_select(0, i))
                            - table.index_select(1, d["fl"].index_select(0, i)))
            for g in d["groups"]:
                rows.append(g["rows"])
                values.append(_group_loss(g, h.index_select(0, g["rows"]), i, step).mean(1))
        return torch.zeros(len(arms), dtype=table.dtype).index_copy(0, torch.cat(rows), torch.cat(values))

    traj = optimise(stack, loss_of, tuple(d["n"] for d in datasets), cfg.steps, cfg.batch_size, cfg.lr, seed,
                     cfg.log_every)
    with torch.no_grad():
        tables = torch.softmax(stack.logit_tables().double(), dim=-1)
    seconds = time.perf_counter() - t0
    out = {}
    for k, arm in enumerate(arms):
        info = {"fraction_used": 1.0, **(extra if arm.data == "unanimous" else {}), **arm.info,
                "trained_side_by_side": len(arms)}
        if arm.loss == "corrected_dpo":
            info.update(alpha=float(arm.loss_params.get("alpha", 1.0)),
                        mean_sigmoid_variance=float(arm.variance.mean()))
        out[arm.name] = TrainResult(tables[k].clone(), [(st, v[k] if isinstance(v, list) else v) for st, v in traj],
                                    info, seconds)
    return out


def train_dpo(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, loss: str = "dpo", **loss_params) -> TrainResult:
    """Plain DPO (or another anonymous-label loss, e.g. IPO) on one random type's label per pair."""
    return train_arms(rewards, pairs, seed, cfg, [Arm(loss, loss, loss_params)])[loss]


def train_consistent(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, loss: str = "consistent") -> TrainResult:
    """Eq. 20 on maximum annotator information: each type labels each pair; only unanimous
    pairs are kept, oriented towards the agreed winner; loss −log σ(k·h)."""
    return train_arms(rewards, pairs, seed, cfg, [Arm(loss, loss)])[loss]


def corrected_arm(name: str, corr: CorrectionConfig, variance: torch.Tensor, info: dict | None = None) -> Arm:
    """The corrected-DPO arm of a configuration: α, clamp and ε from ``corr``, warm-up of DPO steps."""
    return Arm(name, "corrected_dpo",
                        {"alpha": corr.alpha, "correction_clamp": corr.correction_clamp, "eps": corr.eps},
                        variance=variance, warmup_steps=corr.warmup_steps, info=dict(info or {}))


def train_corrected_dpo(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, corr: CorrectionConfig,
                        joint_model: LatentTypeJointModel | None = None,
                        variance: torch.Tensor | None = None) -> TrainResult:
    """First-order corrected DPO: ``warmup_steps`` of DPO, then −log(σ(h) + α·correction) with
    Var_u[σ(Δ_u)] from the joint model (delta method, §5.3) or given per preference
    (``variance``, e.g. :func:`true_sigmoid_variance`). Same anonymous labels as DPO."""
    if (joint_model is None) == (variance is None):
        raise ValueError("give exactly one of joint_model and variance")
    if variance is None:
        labels, _ = anonymous_labels(rewards, pairs, seed)
        x, yw, yl = orient_by_label(pairs, labels)
        n_resp = rewards.shape[2]
        with torch.no_grad():
            variance = joint_model.sigmoid_variance(flat_index(x, yw, n_resp), flat_index(x, yl, n_resp))
    return train_arms(rewards, pairs, seed, cfg, [corrected_arm("corrected_dpo", corr, variance)])["corrected_dpo"]
