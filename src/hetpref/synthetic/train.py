"""Trainers for the synthetic experiment (§7.2): DPO, first-order corrected DPO with a latent-type
joint-likelihood variance model (Eq. 19), and the consistent loss (Eq. 20).

Every trainer minimises a loss from :mod:`hetpref.losses` on ``h = β[log π(y_w|x) − log π(y_l|x)]``
(uniform π_ref cancels) with Adam on random mini-batches. Runs are deterministic for a seed.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn

from ..losses import preference_loss, unanimous_mask
from .data import Pairs, anonymous_labels, generator, per_type_labels, same_annotator_pairing


@dataclass
class TrainConfig:
    steps: int = field(default=10_000, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=1024, metadata={"help": "preferences per step"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    policy: str = field(default="mlp", metadata={"help": "'mlp' (one-hot x → hidden → logits) or 'tabular'"})
    hidden: tuple = field(default=(15, 15), metadata={"help": "MLP hidden widths"})
    beta: float = field(default=1.0, metadata={"help": "KL strength β in h"})
    log_every: int = field(default=100, metadata={"help": "steps per loss-trajectory point"})

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.policy not in ("mlp", "tabular"):
            raise ValueError(f"policy must be 'mlp' or 'tabular', got {self.policy!r}")
        if any(w < 1 for w in self.hidden):
            raise ValueError(f"hidden widths must be ≥ 1, got {self.hidden}")


@dataclass
class CorrectionConfig:
    alpha: float = field(default=1.0, metadata={"help": "correction strength α (0 = DPO, 1 = theory)"})
    latent_types: int = field(default=3, metadata={"help": "K, latent types of the joint model"})
    joint_lr: float = field(default=1e-2, metadata={"help": "Adam lr of the joint model"})
    joint_steps: int = field(default=10_000, metadata={"help": "joint-model optimizer steps"})
    warmup_steps: int = field(default=8_000, metadata={"help": "plain DPO steps before the correction starts"})
    correction_clamp: float | None = field(default=0.1, metadata={"help": "bound on |correction| (None: none)"})
    eps: float = field(default=1e-6, metadata={"help": "stable-log floor ε"})

    def __post_init__(self):
        if self.alpha < 0:
            raise ValueError(f"alpha must be ≥ 0, got {self.alpha}")
        if self.latent_types < 1 or self.joint_steps < 1 or self.warmup_steps < 0:
            raise ValueError("latent_types and joint_steps must be ≥ 1 and warmup_steps ≥ 0, got "
                             f"{self.latent_types}, {self.joint_steps}, {self.warmup_steps}")
        if self.correction_clamp is not None and self.correction_clamp <= 0:
            raise ValueError(f"correction_clamp must be > 0 or None, got {self.correction_clamp}")


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


def policy_table(policy: nn.Module, n_contexts: int) -> torch.Tensor:
    """π(y|x) for every context, [X, N] float64."""
    with torch.no_grad():
        return torch.softmax(policy.logit_table().double(), dim=-1)


@dataclass
class TrainResult:
    policy: torch.Tensor            # π(y|x), [X, N]
    loss_trajectory: list           # [(step, mean loss over the window)]
    info: dict                      # method-specific facts (fraction of data used, ...)
    seconds: float


class Adam:
    """Adam (Kingma & Ba) as six in-place tensor ops per parameter. Numerically the update of
    ``torch.optim.Adam`` with default betas (tested), without its per-step Python bookkeeping,
    which dominated these tiny models' step time (about 2× on this machine)."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            m.mul_(self.b1).add_(g, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)


def _optimise(module: nn.Module, loss_of_batch, n: int, steps: int, batch_size: int, lr: float,
              seed: int, log_every: int, what: str = "policy", chunk: int = 500):
    """Adam on uniform random mini-batches of [0, n); raises on a non-finite loss.

    Batch indices are drawn ``chunk`` steps at a time (one RNG call instead of one per step);
    ``loss_of_batch(indices, step)`` returns the mean loss of a batch."""
    g = generator(seed, "train")
    opt = Adam(module.parameters(), lr=lr)
    traj, window = [], []
    for first in range(0, steps, chunk):
        batches = torch.randint(n, (min(chunk, steps - first), batch_size), generator=g)
        for j, idx in enumerate(batches):
            step = first + j
            loss = loss_of_batch(idx, step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            window.append(loss.detach())
            if len(window) == log_every or step == steps - 1:
                mean = torch.stack(window).mean().item()
                if not math.isfinite(mean):
                    raise FloatingPointError(f"non-finite {what} loss ({mean}) by step {step + 1}; "
                                             "lower the learning rate or check the inputs")
                traj.append((step + 1, mean))
                window = []
    return traj


def _h(policy, flat_w, flat_l, beta):
    """h = β[log π(y_w|x) − log π(y_l|x)]. Both terms share x, so the softmax normaliser cancels:
    the policy's logit table is evaluated once per step (X·N entries) instead of per example.
    ``flat_w``/``flat_l`` index the flattened table (x·N + y)."""
    table = policy.logit_table().reshape(-1)
    return beta * (table.index_select(0, flat_w) - table.index_select(0, flat_l))


def _flat(x, y, n_responses):
    return x * n_responses + y


def orient_by_label(pairs: Pairs, labels: torch.Tensor):
    """(x, y_w, y_l) from pairs and 0/1 labels (1 = y1 preferred)."""
    win = labels.bool()
    return pairs.x, torch.where(win, pairs.y1, pairs.y2), torch.where(win, pairs.y2, pairs.y1)


def train_dpo(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, loss: str = "dpo", **loss_params) -> TrainResult:
    """Plain DPO (or another anonymous-label loss, e.g. IPO) on one random type's label per pair."""
    t0 = time.perf_counter()
    labels, _ = anonymous_labels(rewards, pairs, seed)
    x, yw, yl = orient_by_label(pairs, labels)
    n_ctx, n_resp = rewards.shape[1:]
    fw, fl = _flat(x, yw, n_resp), _flat(x, yl, n_resp)
    policy = make_policy(cfg, n_ctx, n_resp, seed)
    traj = _optimise(policy, lambda i, s: preference_loss(loss, _h(policy, fw.index_select(0, i), fl.index_select(0, i), cfg.beta), **loss_params).mean(),
                        len(pairs), cfg.steps, cfg.batch_size, cfg.lr, seed, cfg.log_every)
    return TrainResult(policy_table(policy, n_ctx), traj, {"fraction_used": 1.0}, time.perf_counter() - t0)


def train_consistent(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, loss: str = "consistent") -> TrainResult:
    """Eq. 20 on maximum annotator information: each type labels each pair; only unanimous
    pairs are kept, oriented towards the agreed winner; loss −log σ(k·h)."""
    t0 = time.perf_counter()
    labels = per_type_labels(rewards, pairs, seed)
    keep, _ = unanimous_mask(labels)
    if keep.sum() == 0:
        raise ValueError("no unanimous pair in the data: increase the number of preferences")
    agreed = labels[:, 0][keep]
    kept = Pairs(pairs.x[keep], pairs.y1[keep], pairs.y2[keep])
    x, yw, yl = orient_by_label(kept, agreed)
    k = rewards.shape[0]
    n_ctx, n_resp = rewards.shape[1:]
    fw, fl = _flat(x, yw, n_resp), _flat(x, yl, n_resp)
    policy = make_policy(cfg, n_ctx, n_resp, seed)
    traj = _optimise(policy, lambda i, s: preference_loss(loss, _h(policy, fw.index_select(0, i), fl.index_select(0, i), cfg.beta), n_types=k).mean(),
                        len(kept), cfg.steps, cfg.batch_size, cfg.lr, seed, cfg.log_every)
    info = {"fraction_used": len(kept) / len(pairs), "n_unanimous": len(kept)}
    return TrainResult(policy_table(policy, n_ctx), traj, info, time.perf_counter() - t0)


class LatentTypeJointModel(nn.Module):
    """q(pair1; pair2) = Σ_k w_k σ(Δρ_k(pair1)) σ(Δρ_k(pair2)): K latent types with tabular
    rewards ρ_k(x, y) and weights softmax(logits), the reference code's model for Eq. 19."""

    def __init__(self, n_latent: int, n_contexts: int, n_responses: int, seed: int):
        super().__init__()
        g = generator(seed, "init")
        self.n_responses = n_responses
        self.rho = nn.Parameter(0.1 * torch.randn(n_latent, n_contexts * n_responses, generator=g))
        self.logits = nn.Parameter(torch.zeros(n_latent))

    def type_probs(self, flat1, flat2):
        """σ(Δρ_k) for pairs given as flat cell indices x·N + y of both responses, [K, n]."""
        return torch.sigmoid(self.rho.index_select(1, flat1) - self.rho.index_select(1, flat2))

    def joint(self, a: tuple, b: tuple):
        w = torch.softmax(self.logits, 0)[:, None]
        return (w * self.type_probs(*a) * self.type_probs(*b)).sum(0)

    def sigmoid_variance(self, flat1, flat2):
        """Var_u[σ(Δ_u)] = a − m² with a = q(p; p), m = a + q(p; p reversed) (Eq. 19), clamped at 0."""
        w = torch.softmax(self.logits, 0)[:, None]
        s = self.type_probs(flat1, flat2)
        a = (w * s * s).sum(0)
        m = a + (w * s * (1 - s)).sum(0)
        return (a - m * m).clamp(min=0)


def train_joint_model(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, corr: CorrectionConfig):
    """Fit the joint-likelihood model on same-annotator preference pairs by cross-entropy
    against o·o' (both first options preferred). Returns (model, trajectory, info)."""
    t0 = time.perf_counter()
    labels, types = anonymous_labels(rewards, pairs, seed)
    first, second = same_annotator_pairing(types, seed)
    target = (labels[first] * labels[second]).float()
    n_ctx, n_resp = rewards.shape[1:]
    f1, f2 = _flat(pairs.x, pairs.y1, n_resp), _flat(pairs.x, pairs.y2, n_resp)
    a = (f1[first], f2[first])
    b = (f1[second], f2[second])
    model = LatentTypeJointModel(corr.latent_types, n_ctx, n_resp, seed)
    bce = nn.BCELoss()

    def loss_of(i, s):
        q = model.joint(tuple(t.index_select(0, i) for t in a), tuple(t.index_select(0, i) for t in b))
        return bce(q.clamp(1e-7, 1 - 1e-7), target.index_select(0, i))

    traj = _optimise(model, loss_of, len(first), corr.joint_steps, cfg.batch_size, corr.joint_lr,
                        seed, cfg.log_every, what="joint-model")
    info = {"n_paired": int(len(first)), "seconds": time.perf_counter() - t0}
    return model, traj, info


def train_corrected_dpo(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, corr: CorrectionConfig,
                        joint_model: LatentTypeJointModel) -> TrainResult:
    """First-order corrected DPO: ``warmup_steps`` of DPO, then −log(σ(h) + α·correction) with
    Var_u[σ(Δ_u)] from the joint model (delta method, §5.3). Same anonymous labels as DPO."""
    t0 = time.perf_counter()
    if corr.warmup_steps > cfg.steps:
        raise ValueError(f"warmup_steps ({corr.warmup_steps}) exceeds steps ({cfg.steps})")
    labels, _ = anonymous_labels(rewards, pairs, seed)
    x, yw, yl = orient_by_label(pairs, labels)
    n_ctx, n_resp = rewards.shape[1:]
    fw, fl = _flat(x, yw, n_resp), _flat(x, yl, n_resp)
    with torch.no_grad():
        variance = joint_model.sigmoid_variance(fw, fl)
    policy = make_policy(cfg, n_ctx, n_resp, seed)

    def loss_of(i, step):
        h = _h(policy, fw.index_select(0, i), fl.index_select(0, i), cfg.beta)
        if step < corr.warmup_steps:
            return preference_loss("dpo", h).mean()
        return preference_loss("corrected_dpo", h, variance=variance.index_select(0, i), alpha=corr.alpha,
                               variance_kind="sigmoid", correction_clamp=corr.correction_clamp,
                               eps=corr.eps).mean()

    traj = _optimise(policy, loss_of, len(pairs), cfg.steps, cfg.batch_size, cfg.lr, seed, cfg.log_every)
    info = {"fraction_used": 1.0, "alpha": corr.alpha, "mean_estimated_sigmoid_variance": float(variance.mean())}
    return TrainResult(policy_table(policy, n_ctx), traj, info, time.perf_counter() - t0)


def config_dict(*cfgs) -> dict:
    out = {}
    for c in cfgs:
        out.update(asdict(c))
    return out
