"""The workflow config's checks across keys, which JSON Schema cannot express: run while the
DAG is built (``rules/common.smk``), on the config the schema has validated and filled with
defaults. :func:`config_problems` returns every problem, each naming its key;
:func:`check_config` raises one :class:`~hetpref.config.ConfigError` listing them all.

Where a library configuration validates its own fields (:class:`~hetpref.synthetic.config.
CorrectionConfig`, :class:`~hetpref.synthetic.config.TrainConfig`), it is built here and its own
message is the problem's. Nothing here loads a model, reads the network or imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError
from .lm.hub import spec_problem
from .lm.resources import batch_split_problem
from .synthetic.config import ConfigValueError, TrainConfig, correction_config
from .synthetic.heterogeneity import sweep_problem

# the sweeps beyond the paper, off by default: section → (what it is, the overlay that turns it on)
OPT_IN_SWEEPS = {"sweep": ("sample-size sweep", "sweep.yaml"),
                 "heterogeneity": ("heterogeneity sweep", "heterogeneity.yaml")}


@dataclass(frozen=True)
class Problem:
    """One mistake in the workflow config: the dotted key it is at and what is wrong there."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def _built(make, section: str) -> list[Problem]:
    """The problem a library configuration reports when built from ``section``, if any."""
    try:
        make()
    except ConfigValueError as exc:
        return [Problem(f"{section}.{exc.field}", str(exc))]
    return []


def synthetic_problems(syn: dict) -> list[Problem]:
    """The synthetic stage's keys: corrected DPO's warm-up within training, the environment's
    per-type lists, the configurations' own validation and the heterogeneity sweep's grid."""
    out = []
    corr, steps = syn["corrected_dpo"], syn["train"]["steps"]
    if corr["warmup_steps"] > steps:
        out.append(Problem("synthetic.corrected_dpo.warmup_steps",
                           f"{corr['warmup_steps']} exceeds synthetic.train.steps = {steps}"))
    env = syn["environment"]
    if not len(env["shifts"]) == len(env["slopes"]) == len(env["scales"]):
        out.append(Problem("synthetic.environment",
                           "shifts, slopes and scales must have one entry per type (equal lengths)"))
    out += _built(lambda: TrainConfig(**syn["train"]), "synthetic.train")
    out += _built(lambda: correction_config(corr), "synthetic.corrected_dpo")
    het = syn["heterogeneity"]
    if het["enabled"]:
        problem = sweep_problem(env, het["shifts"], het["outer_scales"])
        if problem:
            out.append(Problem("synthetic.heterogeneity", f"the sweep of synthetic.environment {problem}"))
    return out


def lm_problems(lm: dict) -> list[Problem]:
    """The LM stage's keys: the model (a local folder that is not there or not a model fails now;
    a hub id is looked up only in the job), the local split's source, the batch split."""
    out = []
    problem = spec_problem(lm["model"])
    if problem:
        out.append(Problem("lm.model", problem))
    if lm["local_split"]["enabled"] and lm["source"] != "local":
        out.append(Problem("lm.local_split.enabled", f"true with lm.source = {lm['source']!r}: splitting one "
                                                     "file applies to source local only"))
    problem = batch_split_problem(lm["train"]["batch_size"], lm["train"]["gradient_accumulation_steps"],
                                  lm["gpus_per_job"])
    if problem:
        out.append(Problem("lm.train.batch_size", problem))
    return out


def pew_problems(pew: dict) -> list[Problem]:
    names = [p["name"] for p in pew["partitions"]]
    if len(set(names)) != len(names):
        return [Problem("pew.partitions", f"partition names must be unique, got {names}")]
    return []


def config_problems(cfg: dict) -> list[Problem]:
    """Every cross-key problem of the workflow config (schema-valid, defaults filled), in the
    order of its sections; empty when there is none."""
    return synthetic_problems(cfg["synthetic"]) + lm_problems(cfg["lm"]) + pew_problems(cfg["pew"])


def problems_error(problems: list[Problem], source: str = "workflow config") -> ConfigError:
    """One error naming every problem (its key first)."""
    if len(problems) == 1:
        return ConfigError(f"invalid {source} at {problems[0]}")
    return ConfigError(f"invalid {source} ({len(problems)} problems):\n  " + "\n  ".join(map(str, problems)))


def check_config(cfg: dict) -> None:
    """Raise :class:`~hetpref.config.ConfigError` listing every problem of :func:`config_problems`."""
    problems = config_problems(cfg)
    if problems:
        raise problems_error(problems)


def opt_in_problem(syn: dict, section: str) -> Problem | None:
    """A sweep beyond the paper asked for (its table or figure as a target) while
    ``synthetic.<section>.enabled`` is off: the key and the overlay that turns it on."""
    if syn[section]["enabled"]:
        return None
    what, overlay = OPT_IN_SWEEPS[section]
    return Problem(f"synthetic.{section}.enabled",
                   f"the {what} is off by default; run it with --configfile configs/{overlay} "
                   "(or configs/paper.yaml), or set it to true")
