"""The variance term of first-order corrected DPO (§5.3): Var_u[σ(Δ_u)] per preference pair.

Two sources, one per arm of the experiment: the estimate of Eq. 19 from same-annotator label
pairs, by the reference code's latent-type joint-likelihood model
(:class:`LatentTypeJointModel`, fitted by :func:`train_joint_model`), and the oracle
(:func:`true_sigmoid_variance`), the true variance across equally weighted types.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn

from ..oracles import type_delta_variance
from .config import JOINT_REWARDS, CorrectionConfig, TrainConfig
from .data import Pairs, anonymous_labels, flat_index, generator, same_annotator_pairing
from .optim import optimise


class LatentTypeJointModel(nn.Module):
    """q(pair1; pair2) = Σ_k w_k σ(Δρ_k(pair1)) σ(Δρ_k(pair2)): K latent types with rewards ρ_k
    and weights softmax(logits) — the reference code's model family for Eq. 19.

    ``rewards="tabular"``: one ρ_k(x, y) per cell (the reference code's choice, K·X·N values).
    ``rewards="offset"``: ρ_k depends on d = (y − x) mod N only (K·N values) — the §7.2
    environment's rewards are functions of d, and so is every type's; the reference code has
    this variant too (its "Loc" model). Pairs are given as flat indices x·N + y."""

    def __init__(self, n_latent: int, n_contexts: int, n_responses: int, seed: int, rewards: str = "offset"):
        super().__init__()
        if rewards not in JOINT_REWARDS:
            raise ValueError(f"joint-model rewards must be one of {', '.join(JOINT_REWARDS)}, got {rewards!r}")
        g = generator(seed, "init")
        self.n_responses, self.rewards = n_responses, rewards
        n_cells = n_contexts * n_responses if rewards == "tabular" else n_responses
        self.rho = nn.Parameter(0.1 * torch.randn(n_latent, n_cells, generator=g))
        self.logits = nn.Parameter(torch.zeros(n_latent))

    def cells(self, flat):
        """The reward cell of each flat index x·N + y."""
        if self.rewards == "tabular":
            return flat
        return (flat % self.n_responses - flat // self.n_responses) % self.n_responses

    def cell_probs(self, c1, c2):
        """σ(Δρ_k) for pairs given as reward cells of both responses (see :meth:`cells`), [K, n]:
        the training loop maps flat indices to cells once, not at every step."""
        return torch.sigmoid(self.rho.index_select(1, c1) - self.rho.index_select(1, c2))

    def type_probs(self, flat1, flat2):
        """σ(Δρ_k) for pairs given as flat indices of both responses, [K, n]."""
        return self.cell_probs(self.cells(flat1), self.cells(flat2))

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


def joint_cross_entropy(q, target):
    """Eq. 19's fit criterion: the cross-entropy of the joint model's q against o·o' (q kept off 0 and 1)."""
    return nn.functional.binary_cross_entropy(q.clamp(1e-7, 1 - 1e-7), target)


def train_joint_model(rewards, pairs: Pairs, seed: int, cfg: TrainConfig, corr: CorrectionConfig):
    """Fit the joint-likelihood model on same-annotator preference pairs by cross-entropy
    against o·o' (both first options preferred), Eq. 19. With ``corr.joint_holdout > 0`` a
    random share of the pairs is held out: its loss is reported (beside the loss of the true q,
    the floor) and, with early stopping, the evaluation with the lowest held-out loss is kept.
    Returns (model, trajectory, info)."""
    t0 = time.perf_counter()
    labels, types = anonymous_labels(rewards, pairs, seed)
    first, second = same_annotator_pairing(types, seed)
    target = (labels[first] * labels[second]).float()
    n_ctx, n_resp = rewards.shape[1:]
    f1, f2 = flat_index(pairs.x, pairs.y1, n_resp), flat_index(pairs.x, pairs.y2, n_resp)
    model = LatentTypeJointModel(corr.latent_types, n_ctx, n_resp, seed, corr.joint_rewards)
    c1, c2 = model.cells(f1), model.cells(f2)
    n_paired = len(first)
    n_hold = int(round(corr.joint_holdout * n_paired))
    if n_hold:
        perm = torch.randperm(n_paired, generator=generator(seed, "holdout"))
        hold, fit = perm[:n_hold], perm[n_hold:]
    else:
        hold, fit = torch.arange(0), torch.arange(n_paired)
    a = (c1[first[fit]], c2[first[fit]])
    b = (c1[second[fit]], c2[second[fit]])
    target_fit = target[fit]

    def w_of():
        return torch.softmax(model.logits, 0)[:, None]

    def loss_of(i, s):
        pa = model.cell_probs(a[0].index_select(0, i), a[1].index_select(0, i))
        pb = model.cell_probs(b[0].index_select(0, i), b[1].index_select(0, i))
        return joint_cross_entropy((w_of() * pa * pb).sum(0), target_fit.index_select(0, i))

    heldout, best = [], {"loss": math.inf, "state": None, "step": None}
    if n_hold:
        ha = (c1[first[hold]], c2[first[hold]])
        hb = (c1[second[hold]], c2[second[hold]])
        target_hold = target[hold]

        def evaluate_heldout(step):
            if (step + 1) % corr.joint_eval_every and step + 1 != corr.joint_steps:
                return
            with torch.no_grad():
                q_hold = (w_of() * model.cell_probs(*ha) * model.cell_probs(*hb)).sum(0)
                value = joint_cross_entropy(q_hold, target_hold).item()
            heldout.append((step + 1, value))
            if value < best["loss"]:
                best.update(loss=value, step=step + 1,
                            state={k: v.detach().clone() for k, v in model.state_dict().items()})
    else:
        evaluate_heldout = None

    traj = optimise(model, loss_of, len(fit), corr.joint_steps, corr.joint_batch_size, corr.joint_lr,
                     seed, cfg.log_every, what="joint-model", after_step=evaluate_heldout)
    info = {"n_paired": int(n_paired), "n_fit_pairs": int(len(fit)), "n_heldout_pairs": int(n_hold)}
    if n_hold:
        if corr.joint_early_stopping:
            model.load_state_dict(best["state"])
        with torch.no_grad():
            p_true = torch.sigmoid(rewards[:, pairs.x, pairs.y1] - rewards[:, pairs.x, pairs.y2])  # [U, n]
            q_true = (p_true[:, first[hold]] * p_true[:, second[hold]]).mean(0)
        info.update(heldout_loss=best["loss"] if corr.joint_early_stopping else heldout[-1][1],
                    heldout_loss_true_q=joint_cross_entropy(q_true, target_hold).item(),
                    selected_step=best["step"] if corr.joint_early_stopping else corr.joint_steps,
                    heldout_trajectory=heldout)
    info["seconds"] = time.perf_counter() - t0
    return model, traj, info


def true_sigmoid_variance(rewards, x, y1, y2) -> torch.Tensor:
    """The oracle: Var_u[σ(Δ_u)] of each pair under equally weighted types (as the anonymous
    labels are drawn), [n] — what Eq. 19's estimator estimates."""
    table = type_delta_variance(np.asarray(rewards, dtype=float), kind="sigmoid")
    return torch.as_tensor(table[x.numpy(), y1.numpy(), y2.numpy()], dtype=torch.float32)
