"""Beyond the paper: where does the correction help? The §7.2 environment swept along two axes
of heterogeneity, one at a time from the configured environment (three types, shifts (−s₀, 0, s₀),
scales (c₀, c₂, c₀)):

* type shift s — shifts (−s, 0, s), everything else as configured (s = 0: all types peak at x);
* outer scale c — scales (c, c₂, c), i.e. scale ratio c / c₂ (ratio 1: equally confident types).

At each point, every method's exact population limit and its trained policy are compared to π*.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .methods import oracle_key, parse_method


def sweep_problem(environment: dict, shifts, outer_scales) -> str | None:
    """Why the configured environment cannot be swept, or None."""
    s, c = list(environment["shifts"]), list(environment["scales"])
    if len(s) != 3 or s[1] != 0 or s[0] != -s[2] or c[0] != c[2]:
        return (f"needs three types with shifts (-s, 0, s) and scales (c, c2, c); got shifts {s}, scales {c}")
    half = environment["n"] // 2
    bad = [v for v in shifts if not 0 <= v <= half]
    if bad:
        return f"shifts {bad} are outside 0..n/2 = 0..{half}"
    return None


def point_name(shift: int, outer_scale: float) -> str:
    return f"shift{int(shift)}_outer{float(outer_scale):g}"


def heterogeneity_points(environment: dict, shifts, outer_scales) -> list[dict]:
    """The sweep's environments (each once, even where the two axes meet), as dicts with
    ``name``, ``shift``, ``outer_scale``, ``scale_ratio``, ``on_shift_axis``, ``on_scale_axis``
    and the ``environment`` config of the point."""
    problem = sweep_problem(environment, shifts, outer_scales)
    if problem:
        raise ValueError(f"heterogeneity sweep: {problem}")
    base_shift, base_outer, middle = environment["shifts"][2], environment["scales"][0], environment["scales"][1]
    points = {}
    for s, c, axis in [(s, base_outer, "shift") for s in shifts] + [(base_shift, c, "scale") for c in outer_scales]:
        name = point_name(s, c)
        p = points.setdefault(name, {
            "name": name, "shift": int(s), "outer_scale": float(c), "scale_ratio": float(c) / middle,
            "on_shift_axis": False, "on_scale_axis": False,
            "environment": {**environment, "shifts": [-int(s), 0, int(s)], "scales": [float(c), middle, float(c)]}})
        p[f"on_{axis}_axis"] = True
    return list(points.values())


def run_point(point: dict, seed: int, n: int, train_cfg, corr, alpha: float,
              methods: list[str]):
    """Exact limits and trained policies of ``methods`` (ids, e.g. from
    :func:`~hetpref.synthetic.experiment.expand_methods`) at one point. Returns (rows, policies,
    provenance facts): one row per method with its trained and exact TV to π*; every method's
    loss trajectory and the joint model's info (None without an estimated arm)."""
    # imported here: the point list above is built by the workflow at DAG time, without torch
    from ..metrics import total_variation
    from .experiment import compute_oracles, environment_from_config, profile_total_variation, run_methods

    env = environment_from_config(point["environment"])
    corr = replace(corr, alpha=alpha)
    oracles = compute_oracles(env, [alpha], corr, theory=False)
    opt = oracles["optimal"]
    results, joint = run_methods(methods, env, n, seed, train_cfg, corr)
    rows, policies = [], {}
    for mid in methods:
        spec = parse_method(mid)
        pol = results[mid].policy.numpy()
        policies[mid] = pol
        exact = oracles[oracle_key(mid)]
        rows.append({
            "point": point["name"], "shift": point["shift"], "outer_scale": point["outer_scale"],
            "scale_ratio": point["scale_ratio"], "on_shift_axis": point["on_shift_axis"],
            "on_scale_axis": point["on_scale_axis"], "seed": seed, "n_preferences": n, "method": mid,
            "family": "corrected_dpo" if spec.method == "corrected_dpo" else spec.method,
            "variance": spec.variance, "alpha": spec.alpha,
            "tv_to_optimal": total_variation(pol, opt), "tv_profile_to_optimal": profile_total_variation(pol, opt),
            "exact_tv_to_optimal": total_variation(exact, opt),
            "variance_correlation": results[mid].info.get("variance_correlation", np.nan),
            "variance_true_mean": results[mid].info.get("variance_true_mean", np.nan),
        })
    facts = {"joint_model": joint["info"] if joint else None,
             "loss_trajectories": {mid: results[mid].loss_trajectory for mid in methods}}
    return rows, policies, facts

