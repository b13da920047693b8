"""The claim record and what every claim shares: one reproducible random stream per (seed, claim),
the JSON-ready record ``{"id", "title", "statement", "instance", "evidence", "passed"}``, response
names (y1, y2, …) and one torch thread for the claims' tiny tensors."""
from __future__ import annotations

import functools

import numpy as np
import torch


def single_torch_thread(func):
    """Run ``func`` with one torch thread (restored afterwards): the claims' tensors are tiny, and
    on a busy 2-core machine torch's OpenMP spin-waits made them ~10× slower with 2 threads."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)
    return wrapper


def claim_rng(seed: int, claim_id: int) -> np.random.Generator:
    """An independent, reproducible stream per (seed, claim)."""
    return np.random.default_rng([int(seed), int(claim_id)])


def plain(value):
    """JSON-serialisable copy: numpy arrays/scalars to Python lists/numbers, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def claim_record(claim_id, title, statement, instance, evidence, passed) -> dict:
    return {"id": claim_id, "title": title, "statement": statement, "instance": plain(instance),
            "evidence": plain(evidence), "passed": bool(passed)}


def response_names(order, labels=None) -> list[str]:
    """Response indices to names (y1, y2, … unless ``labels`` are given)."""
    return [labels[i] if labels else f"y{i + 1}" for i in np.asarray(order).tolist()]

