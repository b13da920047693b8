"""The optimiser loop shared by the synthetic experiment's policies and its Eq. 19 joint model:
Adam as a few in-place tensor ops, and Adam on uniform random mini-batches drawn from the
seed's ``train`` stream, with a loss trajectory and a stop on a non-finite loss."""
from __future__ import annotations

import torch
import torch.nn as nn

from .data import generator


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


def optimise(module: nn.Module, loss_of_batch, n, steps: int, batch_size: int, lr: float,
              seed: int, log_every: int, what: str = "policy", chunk: int = 500, after_step=None):
    """Adam on uniform random mini-batches of [0, n); raises on a non-finite loss.

    Batch indices are drawn ``chunk`` steps at a time (one RNG call instead of one per step).
    ``loss_of_batch(indices, step)`` returns the mean loss of a batch, or a vector of per-copy
    mean losses for a :class:`PolicyStack` (their sum is minimised; each trajectory point is
    then a list). ``n`` may be a tuple of dataset sizes: each dataset then gets its own batches
    from its own stream, seeded as a run on that dataset alone would be, and ``indices`` is a
    tuple. ``after_step(step)``, if given, runs after each update (held-out evaluation)."""
    sizes = tuple(n) if isinstance(n, (tuple, list)) else (n,)
    gens = [generator(seed, "train") for _ in sizes]
    opt = Adam(module.parameters(), lr=lr)
    traj, window = [], []
    for first in range(0, steps, chunk):
        shape = (min(chunk, steps - first), batch_size)
        batches = [torch.randint(size, shape, generator=g) for size, g in zip(sizes, gens)]
        for j in range(shape[0]):
            step = first + j
            loss = loss_of_batch(tuple(b[j] for b in batches) if len(sizes) > 1 else batches[0][j], step)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
            window.append(loss.detach())
            if len(window) == log_every or step == steps - 1:
                mean = torch.stack(window).mean(0)
                if not bool(torch.isfinite(mean).all()):
                    raise FloatingPointError(f"non-finite {what} loss ({mean.tolist()}) by step {step + 1}; "
                                             "lower the learning rate or check the inputs")
                traj.append((step + 1, mean.tolist() if mean.ndim else mean.item()))
                window = []
            if after_step is not None:
                after_step(step)
    return traj
