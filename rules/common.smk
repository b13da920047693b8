# Config validation, then the input functions, params and wildcard constraints shared by every
# stage: what the rules need, computed from config values (no model loaded, no network, no torch).
import re
from glob import glob
from pathlib import Path

from snakemake.utils import validate

from hetpref.config import validate_config
from hetpref.config_checks import check_config, opt_in_problem, problems_error
from hetpref.lm import hub as lm_hub
from hetpref.lm import resources as lm_res
from hetpref.lm.names import DATASETS as LM_DATASET_FILES, TRAIN_DATASETS as LM_TRAIN_DATASETS, TYPES as LM_TYPES
from hetpref.lm.names import OBJECTIVE_SPECS, variant_objectives
from hetpref.synthetic.heterogeneity import heterogeneity_points
from hetpref.synthetic.methods import (
    CONSISTENT,
    CORRECTED_DPO,
    DPO,
    ESTIMATED,
    NBC_COUNTS,
    ORACLE,
    expand_methods,
    method_id,
    parse_method,
)

# Our own pass first: one line per problem naming the key, the value and what was expected
# (Snakemake's message dumps the whole schema); then Snakemake's, which fills in defaults; then
# the checks across keys, every problem at once.
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"), "workflow config")
validate(config, "../schemas/config.schema.yaml")
check_config(config)

SYN = config["synthetic"]
PEW = config["pew"]
LM = config["lm"]

CDPO = SYN["corrected_dpo"]
HET = SYN["heterogeneity"]
MAIN_N = SYN["n_preferences"]
MAIN_METHODS = expand_methods(SYN["methods"], CDPO["alphas"], CDPO["variance"])
SWEEP_METHODS = expand_methods(SYN["sweep"]["methods"], [SYN["sweep"]["corrected_dpo_alpha"]], CDPO["variance"])
HET_METHODS = expand_methods(HET["methods"], [HET["corrected_dpo_alpha"]], CDPO["variance"])
HET_POINTS = (
    {p["name"]: p for p in heterogeneity_points(SYN["environment"], HET["shifts"], HET["outer_scales"])}
    if HET["enabled"]
    else {}
)


def _regex(values):
    return "|".join(re.escape(str(v)) for v in values)


wildcard_constraints:
    seed=r"\d+",
    n=r"\d+",
    point=_regex(HET_POINTS) or "no-heterogeneity-point",
    wave=r"W\d+|C_[A-Za-z0-9_.-]+",
    number=r"\d+",
    objective="|".join(OBJECTIVE_SPECS),
    dataset=_regex(LM_TRAIN_DATASETS),


# ---------------------------------------------------------------- synthetic experiment
def needs_joint_model(methods):
    return any(parse_method(m).variance == ESTIMATED for m in methods)


def synthetic_job_outputs(prefix, methods):
    """Named outputs of one training job (one n, one seed, several methods): every method's
    policy, metrics and provenance, and the Eq. 19 joint model when an estimated arm uses one."""
    out = {
        kind: [f"{prefix}/{m}/seed{{seed}}/{kind}.{ext}" for m in methods]
        for kind, ext in (("policy", "npy"), ("metrics", "json"), ("provenance", "json"))
    }
    if needs_joint_model(methods):
        out["joint_model"] = f"{prefix}/joint_model/seed{{seed}}/joint_model.pt"
        out["joint_provenance"] = f"{prefix}/joint_model/seed{{seed}}/provenance.json"
    return out


def synthetic_run(n, method, seed, name):
    return f"results/synthetic/n{n}/{method}/seed{seed}/{name}"


def sweep_run(n, method, seed, name):
    """A sweep run: the main run where the main jobs train it, else the sweep job's."""
    if n == MAIN_N and seed in SYN["seeds"] and set(SWEEP_METHODS) <= set(MAIN_METHODS):
        return synthetic_run(n, method, seed, name)
    return f"results/synthetic/sweep/n{n}/{method}/seed{seed}/{name}"


def main_runs(method, name="policy.npy"):
    return [synthetic_run(MAIN_N, method, s, name) for s in SYN["seeds"]]


def main_metrics():
    return [synthetic_run(MAIN_N, m, s, "metrics.json") for m in MAIN_METHODS for s in SYN["seeds"]]


def _opt_in(section):
    """A sweep beyond the paper asked for (its table or figure as a target) while it is off: a
    clear error at DAG build naming the key and the overlay, instead of an empty table."""
    problem = opt_in_problem(SYN, section)
    if problem:
        raise problems_error([problem])


def sweep_metrics(wildcards=None):
    _opt_in("sweep")
    return [
        sweep_run(n, m, s, "metrics.json")
        for n in SYN["sweep"]["n_preferences"]
        for m in SWEEP_METHODS
        for s in SYN["sweep"]["seeds"]
    ]


def fig4b_runs(variance):
    if CORRECTED_DPO not in SYN["methods"] or variance not in CDPO["variance"]:
        return []
    return [f for a in CDPO["alphas"] for f in main_runs(method_id(CORRECTED_DPO, a, variance))]


def heterogeneity_point(wildcards):
    return HET_POINTS[wildcards.point]


def heterogeneity_files(name):
    """One point's outputs, one per seed (a job runs every seed of a point)."""
    return [f"results/synthetic/heterogeneity/{{point}}/seed{s}/{name}" for s in HET["seeds"]]


def heterogeneity_metrics(wildcards=None):
    _opt_in("heterogeneity")
    return [f"results/synthetic/heterogeneity/{p}/seed{s}/metrics.csv" for p in HET_POINTS for s in HET["seeds"]]


def empirical_limit_sizes():
    """The main size, and the sweep's largest where the sweep runs."""
    sizes = [MAIN_N]
    if SYN["sweep"]["enabled"] and max(SYN["sweep"]["n_preferences"]) != MAIN_N:
        sizes.append(max(SYN["sweep"]["n_preferences"]))
    return sizes


def figure(name):
    return [f"results/figures/{name}.pdf", f"results/figures/{name}.png"]


def synthetic_figures():
    names = ["fig3", "fig4a", "fig4c"]
    if CORRECTED_DPO in SYN["methods"]:
        names.append("fig4b")
    if SYN["sweep"]["enabled"]:
        names.append("fig_sweep")
    if HET["enabled"]:
        names.append("fig_heterogeneity")
    return [f for name in names for f in figure(name)]


def synthetic_outputs():
    out = ["results/synthetic/table.csv", "results/synthetic/oracles.json", "results/synthetic/checks.md"]
    out += synthetic_figures()
    if SYN["sweep"]["enabled"]:
        out.append("results/synthetic/sweep.csv")
    if HET["enabled"]:
        out.append("results/synthetic/heterogeneity.csv")
    if SYN["empirical_limits"]:
        out.append("results/synthetic/empirical_limits.csv")
    return out


def synthetic_check_inputs(wildcards):
    inputs = {"table": "results/synthetic/table.csv", "oracle_summary": "results/synthetic/oracles.json"}
    if SYN["sweep"]["enabled"]:
        inputs["sweep"] = "results/synthetic/sweep.csv"
    if HET["enabled"]:
        inputs["heterogeneity"] = "results/synthetic/heterogeneity.csv"
    if SYN["empirical_limits"]:
        inputs["empirical_limits"] = "results/synthetic/empirical_limits.csv"
    return inputs


# ---------------------------------------------------------------- Pew surveys
# What every Pew reader and analysis job shares: the question filters and the analysis options.
PEW_FILTERS = {k: PEW[k] for k in ("refused_codes", "refused_labels", "min_options", "min_answers_per_option")}
PEW_ANALYSIS = {
    "pseudocount": PEW["pseudocount"],
    "floor": PEW["reward_floor"],
    "temperature": PEW["temperature"],
    "mu": PEW["alternative_distribution"],
    "eps": PEW["eps"],
    "delta": PEW["delta"],
}


def pew_real_files():
    """Every .sav in the data folder, whatever its name (waves are read from the files)."""
    return sorted(glob(str(Path(PEW["data_dir"]) / "*.sav")))


def pew_mode():
    if PEW["source"] != "auto":
        return PEW["source"]
    return "real" if pew_real_files() or PEW["counts_tables"] else "demo"


PEW_MODE = pew_mode()
PEW_DIR = f"results/pew/{PEW_MODE}"
PEW_SUFFIX = "_demo" if PEW_MODE == "demo" else ""
PEW_MODE_LABEL = "demo data (generated, not Pew)" if PEW_MODE == "demo" else "real Pew waves"  # every figure made from demo data says so in its name
PEW_EV_QUESTION = f"EVCAR2_W{PEW['demo']['waves'][0]}" if PEW_MODE == "demo" else PEW["ev_question"]


def pew_input_files(wildcards):
    if PEW_MODE == "demo":
        return [f"resources/pew-demo/demo_W{n}.sav" for n in PEW["demo"]["waves"]]
    return pew_real_files()


def pew_counts_inputs(wildcards):
    """The configured counts tables that exist (inputs, so editing one reruns the inventory);
    a missing one is reported as not_found in the data report."""
    return [p for p in PEW["counts_tables"] if Path(p).is_file()]


def _pew_inventory():
    import pandas as pd

    return pd.read_csv(checkpoints.pew_data.get().output.inventory)


def pew_ok_waves():
    inv = _pew_inventory()
    return inv.loc[inv.status == "ok", "wave"].tolist()


def pew_wave_input(wildcards):
    inv = _pew_inventory()
    row = inv[(inv.wave == wildcards.wave) & (inv.status == "ok")]
    if row.empty:
        raise ValueError(f"Pew wave {wildcards.wave} is not an ok entry of {PEW_DIR}/inventory.csv")
    return row.file.iloc[0]


def pew_wave_kind(wildcards):
    inv = _pew_inventory()
    return inv.loc[inv.wave == wildcards.wave, "kind"].iloc[0]


def pew_combine_inputs(wildcards):
    waves = pew_ok_waves()
    return {
        "inventory": f"{PEW_DIR}/inventory.csv",
        "questions": [f"{PEW_DIR}/waves/{w}/questions.csv" for w in waves],
        "skipped": [f"{PEW_DIR}/waves/{w}/skipped.csv" for w in waves],
        "bootstrap": [f"{PEW_DIR}/waves/{w}/bootstrap.csv" for w in waves],
    }


def pew_partitions_inputs(wildcards):
    waves = pew_ok_waves()
    base = f"{PEW_DIR}/partitions/waves"
    return {
        "inventory": f"{PEW_DIR}/inventory.csv",
        "questions": [f"{base}/{w}/questions.csv" for w in waves],
        "skipped": [f"{base}/{w}/skipped.csv" for w in waves],
        "coverage": [f"{base}/{w}/coverage.csv" for w in waves],
    }


def pew_figure(name):
    return [f"results/figures/{name}{PEW_SUFFIX}.pdf", f"results/figures/{name}{PEW_SUFFIX}.png"]


def pew_partition_outputs():
    if not PEW["partitions"]:
        return []
    return [f"{PEW_DIR}/partitions.md"] + pew_figure("fig_partitions")


def pew_outputs():
    return (
        [f"{PEW_DIR}/summary.md", f"{PEW_DIR}/data_report.md", f"results/figures/fig6-10{PEW_SUFFIX}"]
        + pew_figure("fig1")
        + pew_figure("fig2")
        + pew_figure("fig8")
        + pew_partition_outputs()
    )


# ---------------------------------------------------------------- LM experiment
def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


LM_TAG = f"{LM['source']}_{_slug(LM['model'])}"  # demo data and the model are in every LM path
LM_DIR = f"results/lm/{LM_TAG}"
LM_SUFFIX = "_demo" if LM["source"] == "demo" else ""
LM_DEVICE = "cuda" if LM["gpu"] else "cpu"
LM_MODELLING_DATASET = next((d for d in LM["datasets"] if d != "anonymous"), "unanimous")


def lm_data_inputs(wildcards):
    """source: download → the download rule's files (checksummed); local/demo read in the job.
    A hub id: its weights staged first, on the submit host (lm_stage_model)."""
    inputs = list(rules.lm_download.output) if LM["source"] == "download" else []
    if lm_hub.kind(LM["model"]) == "hub":
        inputs.append(rules.lm_stage_model.output.snapshot)
    return inputs


def lm_tiny_config():
    return {k: v for k, v in LM["tiny"].items() if k != "vocab_size"} if LM["model"] == "tiny" else None


def lm_train_params(wildcards):
    """LMTrainConfig fields from config; the tiny random-init model uses lr_tiny. The objective's own
    loss (ipo) and scoring (the DPO variants) are added by the run it builds (hetpref.lm.training.run)."""
    train = {k: v for k, v in LM["train"].items() if k != "lr_tiny"}
    if LM["model"] == "tiny":
        train["lr"] = LM["train"]["lr_tiny"]
    train["max_length"] = LM["max_length"]
    return train


def lm_runs():
    runs = [(o, d, s) for o in LM["objectives"] for d in LM["datasets"] for s in LM["seeds"]]
    if LM["ipo"]:
        runs += [("ipo", "anonymous", s) for s in LM["seeds"]]
    # beyond the paper: DPO arms that change only the sequence score, on every labelling and seed
    runs += [(o, d, s) for o in variant_objectives(LM["dpo_variants"]) for d in LM["datasets"] for s in LM["seeds"]]
    if LM["indirect"]:  # §6: per-type reward models → averaged → relabel → plain DPO
        runs += [("dpo", "indirect", s) for s in LM["seeds"]]
    return runs


# Resources of the LM jobs, from the model of hetpref.lm.resources (README "Resource and time
# model"), computed here from config values only: nothing loads the model or probes CUDA. With
# lm.gpu the GPU rules get their GPUs on one node, cores per GPU, host RAM and a wall time that
# grows with Snakemake's attempt (a resubmitted job resumes); on CPU lm_train keeps small fixed
# values and the other rules the profile's defaults. lm_data is sized whenever it reads real data.
LM_ESTIMATES = (
    lm_res.lm_job_estimates(LM)
    if LM["gpu"]
    else {"lm_data": lm_res.data_job(sum(lm_res.dataset_pairs(LM).values()))}
)


def _lm_estimate(name, wildcards):
    est = LM_ESTIMATES[name]
    return est[wildcards.objective] if isinstance(est, dict) else est


def _lm_mem_mb(name):
    def mem_mb(wildcards):
        return _lm_estimate(name, wildcards).mem_mb

    return mem_mb


def _lm_runtime(name):
    def runtime(wildcards, attempt):
        return _lm_estimate(name, wildcards).runtime(attempt)

    return runtime


# a training job on the CPU (the local default): no GPU, the profile's memory and time otherwise
CPU_TRAINING_RESOURCES = {"gpu": 0, "mem_mb": 4000, "runtime": 60}


def gpu_job_resources(gpus, mem_mb, runtime):
    """The ``resources:`` of a job on ``gpus`` GPUs of one node (lm_train, own_data_train)."""
    return {
        "gpu": gpus,  # sbatch --gpus=N (a typed GPU: gpu_model in the profile)
        "nodes": 1,  # sbatch --nodes=1: torchrun starts every process on this node
        "cpus_per_gpu": lm_res.CPUS_PER_GPU,  # sbatch --cpus-per-gpu: scales with the GPUs
        "mem_mb": mem_mb,
        "runtime": runtime,
    }


def job_threads(gpu, processes):
    """CPU threads of a job of ``processes`` processes: cores per GPU × its GPUs on GPUs (= what
    SLURM grants with cpus_per_gpu); on CPU one per (gloo) process."""
    return lm_res.CPUS_PER_GPU * processes if gpu else processes


def lm_job_resources(name):
    """The ``resources:`` of the LM rule called name (unpacked with ``**``)."""
    if name == "lm_data":
        if LM["source"] == "demo":
            return {}  # a few thousand generated pairs: the profile's defaults
        return {"mem_mb": _lm_mem_mb(name), "runtime": _lm_runtime(name)}
    if not LM["gpu"]:
        return CPU_TRAINING_RESOURCES if name == "lm_train" else {"gpu": 0}
    return gpu_job_resources(LM["gpus_per_job"] if name == "lm_train" else 1, _lm_mem_mb(name), _lm_runtime(name))


def lm_job_threads(name):
    """CPU threads of an LM job: lm_train's processes (lm.gpus_per_job), one for the scoring rules."""
    return job_threads(LM["gpu"], LM["gpus_per_job"] if name == "lm_train" else 1)


def lm_eval_params(wildcards):
    """Evaluation options; a policy is scored as it was trained (the run's scoring)."""
    return {"max_length": LM["max_length"]}


def lm_train_data(wildcards):
    if wildcards.dataset == "indirect":
        return f"{LM_DIR}/indirect/seed{wildcards.seed}/indirect.jsonl"
    return f"{LM_DIR}/data/{wildcards.dataset}.jsonl"


def lm_test_metrics():
    return [f"{LM_DIR}/runs/{o}/{d}/seed{s}/test_metrics.json" for o, d, s in lm_runs()]


def lm_outputs():
    return [f"results/figures/fig5{LM_SUFFIX}.pdf", f"{LM_DIR}/seed_table.csv", f"{LM_DIR}/length_oracle.csv"]


def final_outputs():
    out = synthetic_outputs()
    out += pew_outputs()
    out += ["results/claims/claims.md"]
    out += lm_outputs()
    return out
