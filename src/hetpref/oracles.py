"""Exact population-limit answers (docs/spec.md §2–4): what each method converges to with
infinite data, computed without sampling. The learners are tested against these.

Shapes: per-type rewards ``rewards[U, X, N]`` (U types, X contexts, N responses), the type
prior ``weights[U]`` (default equal), the alternative distribution ``mu[X, N]`` or ``[N]``
(default uniform). Induced rewards ``r[X, N]`` are returned centred per context.
"""
from __future__ import annotations

import numpy as np
import torch

from .aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix
from .losses import preference_loss
from .preferences import type_weights


# ---------------------------------------------------------------- policies and targets
def optimal_policy(reward, beta: float = 1.0, pi_ref=None) -> np.ndarray:
    """π*(y|x) ∝ π_ref(y|x) exp(r(x,y)/β) (Eq. 10), softmax over the last axis."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    reward = np.asarray(reward, dtype=float)
    logits = reward / beta
    if pi_ref is not None:
        logits = logits + np.log(np.asarray(pi_ref, dtype=float))
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def _mu(mu, shape) -> np.ndarray:
    if mu is None:
        return np.full(shape, 1.0 / shape[-1])
    mu = np.broadcast_to(np.asarray(mu, dtype=float), shape)
    if np.any(mu <= 0) or not np.allclose(mu.sum(-1), 1.0):
        raise ValueError("mu must be a strictly positive distribution over responses")
    return mu


# ---------------------------------------------------------------- the DPO limit
def dpo_limit_reward(pairwise, mu=None, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """DPO's population optimum: the BT maximum-likelihood fit to the pairwise matrix P under
    μ⊗μ weights, by Newton's method (convex; the shift is fixed by centring).

    At the optimum Σ_{y'} μ(y') σ(r(y) − r(y')) = NBC_μ(y) for every y (Eq. 14).
    """
    pairwise = np.asarray(pairwise, dtype=float)
    squeeze = pairwise.ndim == 2
    if squeeze:
        pairwise = pairwise[None]
    x_dim, n = pairwise.shape[0], pairwise.shape[-1]
    mu = _mu(mu, (x_dim, n))
    nbc = normalized_borda_count(pairwise, mu)
    r = np.zeros((x_dim, n))
    ones = np.ones((n, n))
    for _ in range(max_iter):
        s = 1.0 / (1.0 + np.exp(-(r[:, :, None] - r[:, None, :])))
        grad = mu * (np.einsum("xab,xb->xa", s, mu) - nbc)
        if np.abs(grad).max() < tol:
            break
        curv = mu[:, :, None] * mu[:, None, :] * s * (1 - s)
        hess = -curv
        idx = np.arange(n)
        hess[:, idx, idx] = curv.sum(-1) - curv[:, idx, idx]
        # (Σr)² penalty removes the shift null space without moving the optimum
        step = np.linalg.solve(hess + ones * mu.min() ** 2,
                               (grad + mu.min() ** 2 * r.sum(-1, keepdims=True))[..., None])[..., 0]
        r = r - step
    else:
        raise RuntimeError(f"DPO limit did not converge in {max_iter} Newton steps (|grad| = {np.abs(grad).max():.2e})")
    r = r - r.mean(-1, keepdims=True)
    return r[0] if squeeze else r


# ---------------------------------------------------------------- generic population limits
def pairwise_loss_weights(rewards, mu=None, weights=None, law: str = "anonymous") -> np.ndarray:
    """Population weight W[x, a, b] of the event "pair (a, b) shown, a labelled winner".

    ``law="anonymous"``: one random type labels the pair, W = μ(a)μ(b) P(a ≻ b).
    ``law="unanimous"``: every (equally weighted) type labels it and only unanimous pairs are
    kept, W = μ(a)μ(b) Π_u σ(Δ_u(a, b)).
    """
    rewards = np.asarray(rewards, dtype=float)
    mu = _mu(mu, rewards.shape[1:])
    pair = mu[..., :, None] * mu[..., None, :]
    if law == "anonymous":
        return pair * pairwise_preference_matrix(rewards, weights)
    if law == "unanimous":
        deltas = rewards[..., :, None] - rewards[..., None, :]
        log_all = -np.logaddexp(0, -deltas).sum(0)  # Σ_u log σ(Δ_u)
        return pair * np.exp(log_all)
    raise ValueError(f"law must be 'anonymous' or 'unanimous', got {law!r}")


def population_limit_reward(loss: str, pair_weights, loss_params: dict | None = None,
                            init=None, max_iter: int = 2000, tol: float = 1e-11) -> np.ndarray:
    """Minimise Σ_{x,a,b} W[x,a,b] ℓ(r[x,a] − r[x,b]) over induced rewards r (L-BFGS, float64).

    ``loss`` names a loss of :func:`hetpref.losses.preference_loss`; array-valued entries of
    ``loss_params`` (e.g. the per-pair variance of corrected DPO) are given as ``[X, N, N]``.
    """
    W = torch.as_tensor(np.asarray(pair_weights, dtype=float))
    params = {k: (torch.as_tensor(np.asarray(v, dtype=float)) if isinstance(v, np.ndarray) else v)
              for k, v in (loss_params or {}).items()}
    x_dim, n = W.shape[0], W.shape[-1]
    r0 = np.zeros((x_dim, n)) if init is None else np.asarray(init, dtype=float)
    r = torch.tensor(r0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([r], lr=1, max_iter=max_iter, tolerance_grad=tol,
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        h = r[:, :, None] - r[:, None, :]
        value = (W * preference_loss(loss, h, **params)).sum() / x_dim
        value.backward()
        return value

    opt.step(closure)
    out = r.detach().numpy()
    return out - out.mean(-1, keepdims=True)


def type_delta_variance(rewards, weights=None, kind: str = "delta") -> np.ndarray:
    """True per-pair variance across types: Var_u(Δ_u) (``kind="delta"``) or Var_u[σ(Δ_u)]
    (``kind="sigmoid"``), shape ``[X, N, N]``."""
    rewards = np.asarray(rewards, dtype=float)
    w = type_weights(rewards.shape[0], weights)
    deltas = rewards[..., :, None] - rewards[..., None, :]
    if kind == "sigmoid":
        deltas = 1.0 / (1.0 + np.exp(-deltas))
    elif kind != "delta":
        raise ValueError(f"variance kind must be 'delta' or 'sigmoid', got {kind!r}")
    mean = np.tensordot(w, deltas, axes=(0, 0))
    return np.maximum(np.tensordot(w, deltas ** 2, axes=(0, 0)) - mean ** 2, 0.0)


def corrected_dpo_limit_reward(rewards, alpha: float, mu=None, weights=None,
                               variance_kind: str = "delta", correction_clamp: float | None = None,
                               eps: float = 1e-6) -> np.ndarray:
    """Population optimum of first-order corrected DPO given the *true* variance (§5)."""
    variance = type_delta_variance(rewards, weights, variance_kind)
    init = dpo_limit_reward(pairwise_preference_matrix(rewards, weights), mu)
    return population_limit_reward(
        "corrected_dpo", pairwise_loss_weights(rewards, mu, weights, "anonymous"),
        dict(variance=variance, alpha=alpha, variance_kind=variance_kind,
             correction_clamp=correction_clamp, eps=eps), init=init)


def consistent_limit_reward(rewards, mu=None, loss: str = "consistent") -> np.ndarray:
    """Population optimum of a consistent loss on unanimous pairs (equal type weights),
    solved numerically — it equals r̄ (tested), which is the point of §6."""
    k = np.asarray(rewards).shape[0]
    return population_limit_reward(loss, pairwise_loss_weights(rewards, mu, None, "unanimous"),
                                   dict(n_types=k))


def unanimous_fraction(rewards, mu=None) -> float:
    """Share of pairs on which every (equally weighted) type agrees, under μ⊗μ and uniform x."""
    w = pairwise_loss_weights(rewards, mu, None, "unanimous")
    # Σ_{a,b} W = P(unanimous and y1 wins) = half of P(unanimous), by symmetry
    return float(2 * w.sum(axis=(-1, -2)).mean())


# ---------------------------------------------------------------- single-pair minimisers
def unanimity_weights(deltas) -> tuple[torch.Tensor, torch.Tensor]:
    """(P(all k types prefer y1), P(all prefer y2)) = (Π σ(Δ_u), Π σ(−Δ_u)) for ``deltas[k, M]``
    (a tensor, or an array taken as float64): the two events a consistent loss learns from."""
    d = deltas if isinstance(deltas, torch.Tensor) else torch.as_tensor(np.asarray(deltas, dtype=float))
    logsig = torch.nn.functional.logsigmoid
    return torch.exp(logsig(d).sum(0)), torch.exp(logsig(-d).sum(0))


def convex_scalar_minimiser(objective, n: int, lo: float = -60.0, hi: float = 60.0,
                            iters: int = 100) -> np.ndarray:
    """Minimise n independent convex scalar objectives by bisection on the sign of their
    derivative (torch autograd), all at once. ``objective(h[n]) -> [n]``. Bisection rather than
    Newton because it cannot diverge, whatever the curvature of the loss."""
    lo_t = torch.full((n,), lo, dtype=torch.float64)
    hi_t = torch.full((n,), hi, dtype=torch.float64)
    for _ in range(iters):
        mid = ((lo_t + hi_t) / 2).requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(mid).sum(), mid)
        with torch.no_grad():
            rising = grad > 0
            hi_t = torch.where(rising, mid, hi_t)
            lo_t = torch.where(rising, lo_t, mid)
    h = ((lo_t + hi_t) / 2).numpy()
    if np.any(np.abs(h) > 0.99 * max(abs(lo), abs(hi))):
        raise RuntimeError("convex minimiser hit the search bracket; widen lo/hi")
    return h


def pair_population_minimiser(loss: str, deltas, loss_params: dict | None = None) -> np.ndarray:
    """For pairs with per-type reward differences ``deltas[U, M]`` (equal type weights), the h
    minimising the pair's expected loss under the loss's label law, without realisability
    constraints. Anonymous-law losses see P = mean_u σ(Δ_u); consistent losses see the
    unanimous events (Π σ(Δ_u), Π σ(−Δ_u)). Consistency means h* = mean_u Δ_u.
    """
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    if loss.startswith("consistent"):
        w_pos, w_neg = unanimity_weights(d)
        params = {"n_types": d.shape[0], **(loss_params or {})}
    else:
        w_pos = torch.sigmoid(d).mean(0)
        w_neg = 1 - w_pos
        params = dict(loss_params or {})
    h = torch.zeros(d.shape[1], dtype=torch.float64, requires_grad=True)

    def objective():
        return (w_pos * preference_loss(loss, h, **params) + w_neg * preference_loss(loss, -h, **params)).sum()

    # Newton on a separable objective (diagonal Hessian); steps capped at 1 for robustness
    for _ in range(200):
        (grad,) = torch.autograd.grad(objective(), h, create_graph=True)
        (curv,) = torch.autograd.grad(grad.sum(), h)
        with torch.no_grad():
            step = torch.where(curv > 0, grad / curv.clamp(min=1e-300), grad.sign()).clamp(-1.0, 1.0)
            h -= step
        if step.abs().max() < 1e-13:
            break
    else:
        raise RuntimeError(f"pair minimiser for {loss!r} did not converge (last step {step.abs().max():.1e})")
    return h.detach().numpy()


def reference_variant_minimiser(deltas) -> np.ndarray:
    """Population minimiser of the reference code's variant of the consistent loss on unanimous
    pairs: Π σ(Δ_u) · (−log σ(k h)) + Π σ(−Δ_u) · (−log σ(k (1 − h))), h = h(y1, y2), for
    ``deltas[k, M]``. It is not mean_u Δ_u: the variant is biased (§6, App. C)."""
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    k = d.shape[0]
    w_pos, w_neg = unanimity_weights(d)
    return convex_scalar_minimiser(
        lambda h: w_pos * preference_loss("consistent", h, n_types=k)
        + w_neg * preference_loss("consistent_reference_variant", h, n_types=k), d.shape[1])


def disagreement_term_minimiser(deltas, weight: float) -> np.ndarray:
    """Population minimiser of the consistent loss plus ``weight`` · DPO on one disagreement pattern:
    a pair where exactly k−1 types prefer y1 adds weight·(−log σ(h)); by label symmetry a pair where
    exactly one type prefers y1 adds weight·(−log σ(−h)). Equals mean_u Δ_u only at weight 0 (§6)."""
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    k = d.shape[0]
    w_pos, w_neg = unanimity_weights(d)
    # P(exactly one type dissents) = Π σ(Δ) Σ_j e^{−Δ_j}; mirrored for exactly one type agreeing
    q_one_dissent = w_pos * torch.exp(-d).sum(0)
    q_one_agrees = w_neg * torch.exp(d).sum(0)
    return convex_scalar_minimiser(
        lambda h: w_pos * preference_loss("consistent", h, n_types=k)
        + w_neg * preference_loss("consistent", -h, n_types=k)
        + weight * (q_one_dissent * preference_loss("dpo", h) + q_one_agrees * preference_loss("dpo", -h)), d.shape[1])


__all__ = [name for name in dir() if not name.startswith("_")] + ["average_reward"]
