# Config validation, path helpers and input functions shared by every stage.
import re
from glob import glob
from pathlib import Path

from snakemake.utils import validate

from hetpref.config import ConfigError, validate_config

# Our own pass first: one line per problem naming the key, the value and what was expected
# (Snakemake's message dumps the whole schema); then Snakemake's, which fills in defaults.
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"), "workflow config")
validate(config, "../schemas/config.schema.yaml")

SYN = config["synthetic"]
PEW = config["pew"]
LM = config["lm"]


def _check(condition, key, message):
    """Cross-key checks JSON Schema cannot express; fail at DAG build naming the key."""
    if not condition:
        raise ConfigError(f"invalid workflow config at {key}: {message}")


_check(
    SYN["corrected_dpo"]["warmup_steps"] <= SYN["train"]["steps"],
    "synthetic.corrected_dpo.warmup_steps",
    f"{SYN['corrected_dpo']['warmup_steps']} exceeds synthetic.train.steps = {SYN['train']['steps']}",
)
_check(
    len(SYN["environment"]["shifts"])
    == len(SYN["environment"]["slopes"])
    == len(SYN["environment"]["scales"]),
    "synthetic.environment",
    "shifts, slopes and scales must have one entry per type (equal lengths)",
)

_check(
    LM["train"]["batch_size"] % (LM["train"]["gradient_accumulation_steps"] * LM["gpus_per_job"]) == 0,
    "lm.train.batch_size",
    f"{LM['train']['batch_size']} pairs per step cannot be split evenly into "
    f"lm.train.gradient_accumulation_steps × lm.gpus_per_job = {LM['train']['gradient_accumulation_steps']} × "
    f"{LM['gpus_per_job']} micro-batches (the global batch is per device × accumulation × processes)",
)


def cdpo_id(alpha):
    """Method id of corrected DPO at strength alpha (as in hetpref.synthetic.experiment)."""
    return f"cdpo_alpha{float(alpha):g}"


def expand_methods(methods, alphas):
    out = []
    for m in methods:
        out += [cdpo_id(a) for a in alphas] if m == "corrected_dpo" else [m]
    return out


MAIN_METHODS = expand_methods(SYN["methods"], SYN["corrected_dpo"]["alphas"])
SWEEP_METHODS = expand_methods(SYN["sweep"]["methods"], [SYN["sweep"]["corrected_dpo_alpha"]])


wildcard_constraints:
    seed=r"\d+",
    n=r"\d+",
    method="|".join(re.escape(m) for m in sorted(set(MAIN_METHODS + SWEEP_METHODS))),
    wave=r"W\d+|C_[A-Za-z0-9_.-]+",
    number=r"\d+",
    objective="dpo|reward|ipo",
    dataset="anonymous|unanimous|unanimous_filtered|average|indirect|per_type_u[123]",


def synthetic_run(n, method, seed, name):
    return f"results/synthetic/n{n}/{method}/seed{seed}/{name}"


def main_runs(method, name="policy.npy"):
    return [synthetic_run(SYN["n_preferences"], method, s, name) for s in SYN["seeds"]]


def synthetic_train_inputs(wildcards):
    inputs = {"oracles": "results/synthetic/oracles.npz"}
    if wildcards.method.startswith("cdpo_alpha"):
        inputs["joint_model"] = (
            f"results/synthetic/n{wildcards.n}/joint_model/seed{wildcards.seed}/joint_model.pt"
        )
    return inputs


def main_metrics():
    return [synthetic_run(SYN["n_preferences"], m, s, "metrics.json") for m in MAIN_METHODS for s in SYN["seeds"]]


def sweep_metrics():
    return [
        synthetic_run(n, m, s, "metrics.json")
        for n in SYN["sweep"]["n_preferences"]
        for m in SWEEP_METHODS
        for s in SYN["sweep"]["seeds"]
    ]


def figure(name):
    return [f"results/figures/{name}.pdf", f"results/figures/{name}.png"]


def synthetic_figures():
    names = ["fig3", "fig4a", "fig4c"]
    if "corrected_dpo" in SYN["methods"]:
        names.append("fig4b")
    if SYN["sweep"]["enabled"]:
        names.append("fig_sweep")
    return [f for name in names for f in figure(name)]


def synthetic_check_inputs(wildcards):
    inputs = {"table": "results/synthetic/table.csv", "oracle_summary": "results/synthetic/oracles.json"}
    if SYN["sweep"]["enabled"]:
        inputs["sweep"] = "results/synthetic/sweep.csv"
    return inputs


# ---------------------------------------------------------------- Pew surveys
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


def pew_figure(name):
    return [f"results/figures/{name}{PEW_SUFFIX}.pdf", f"results/figures/{name}{PEW_SUFFIX}.png"]


def pew_outputs():
    return (
        [f"{PEW_DIR}/summary.md", f"{PEW_DIR}/data_report.md", f"results/figures/fig6-10{PEW_SUFFIX}"]
        + pew_figure("fig1")
        + pew_figure("fig2")
        + pew_figure("fig8")
    )


# ---------------------------------------------------------------- LM experiment
def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


LM_TAG = f"{LM['source']}_{_slug(LM['model'])}"  # demo data and the model are in every LM path
LM_DIR = f"results/lm/{LM_TAG}"
LM_SUFFIX = "_demo" if LM["source"] == "demo" else ""
LM_DEVICE = "cuda" if LM["gpu"] else "cpu"
LM_DATASET_FILES = ["anonymous", "unanimous", "unanimous_filtered", "per_type", "average", "test"]
LM_MODELLING_DATASET = next((d for d in LM["datasets"] if d != "anonymous"), "unanimous")


def lm_data_inputs(wildcards):
    """source: download → the download rule's files (checksummed); local/demo read in the job."""
    if LM["source"] == "download":
        return rules.lm_download.output
    return []


def lm_tiny_config():
    return {k: v for k, v in LM["tiny"].items() if k != "vocab_size"} if LM["model"] == "tiny" else None


def lm_train_params(wildcards):
    """LMTrainConfig fields from config; the tiny random-init model uses lr_tiny."""
    train = {k: v for k, v in LM["train"].items() if k != "lr_tiny"}
    if LM["model"] == "tiny":
        train["lr"] = LM["train"]["lr_tiny"]
    if wildcards.objective == "ipo":  # the IPO baseline: direct alignment with IPO's loss
        train["loss"] = "ipo"
    train["max_length"] = LM["max_length"]
    return train


def lm_runs():
    runs = [(o, d, s) for o in LM["objectives"] for d in LM["datasets"] for s in LM["seeds"]]
    if LM["ipo"]:
        runs += [("ipo", "anonymous", s) for s in LM["seeds"]]
    if LM["indirect"]:  # §6: per-type reward models → averaged → relabel → plain DPO
        runs += [("dpo", "indirect", s) for s in LM["seeds"]]
    return runs


def lm_train_data(wildcards):
    if wildcards.dataset == "indirect":
        return f"{LM_DIR}/indirect/seed{wildcards.seed}/indirect.jsonl"
    return f"{LM_DIR}/data/{wildcards.dataset}.jsonl"


def lm_test_metrics():
    return [f"{LM_DIR}/runs/{o}/{d}/seed{s}/test_metrics.json" for o, d, s in lm_runs()]


def lm_outputs():
    return [f"results/figures/fig5{LM_SUFFIX}.pdf", f"{LM_DIR}/seed_table.csv", f"{LM_DIR}/length_oracle.csv"]


def final_outputs():
    out = ["results/synthetic/table.csv", "results/synthetic/oracles.json", "results/synthetic/checks.md"]
    out += synthetic_figures()
    out += pew_outputs()
    out += ["results/claims/claims.md"]
    out += lm_outputs()
    if SYN["sweep"]["enabled"]:
        out.append("results/synthetic/sweep.csv")
    return out
