# Functions and values of the own-data rules (rules/own_data.smk), computed from config only:
# the data source, the LoRA training params and the GPU resources of lm_train's resource model.
OD = config["own_data"]
OD_DIR = f"results/own_data/{OD['adapter']}"
OD_DEVICE = "cuda" if OD["gpu"] else "cpu"
OD_LOSSES = list(OD["losses"])


def od_source_input(wildcards):
    """A local source is an input (a changed file reruns the views); a hub id is not a file.
    own_data.source null: the adapter's shipped fixture (resolved here, when the job is planned)."""
    if OD["source"] is None:
        from hetpref.annotators.adapters import fixture

        return [str(fixture(OD["adapter"]))]
    return [OD["source"]] if os.path.exists(OD["source"]) else []


def od_train_params(wildcards):
    """LMTrainConfig fields from own_data.train (tiny: lr_tiny), the loss and the reference."""
    train = {k: v for k, v in OD["train"].items() if k != "lr_tiny"}
    if OD["model"] == "tiny":
        train["lr"] = OD["train"]["lr_tiny"]
    if wildcards.loss == "corrected_dpo":
        train["loss"] = "corrected_dpo"
    train["dpo_scoring"] = "base_reference" if OD["reference"] == "base" else "response_sum"
    train["max_length"] = OD["max_length"]
    train["overlength"] = "drop"  # own_data.max_length: a longer pair is left out and listed, not an error
    return train


def _od_estimate():
    """lm_train's resource model on own_data's model and sizing bounds (training + evaluation)."""
    shape = lm_res.model_shape(OD["model"], OD["tiny"], OD["tiny"]["vocab_size"])
    t, base = OD["train"], OD["reference"] == "base"
    train = lm_res.train_job(shape, "causal_lm", OD["sizing"]["train_pairs"], t["batch_size"], OD["gpus_per_job"],
                             t["gradient_accumulation_steps"], OD["max_length"], t["epochs"],
                             t["gradient_checkpointing"], t["lora_r"], reference_forward=base)
    score = lm_res.score_job(shape, "causal_lm", OD["sizing"]["test_pairs"], 2 if base else 1, OD["max_length"])
    return lm_res.with_evaluation(train, score)


OD_ESTIMATE = _od_estimate() if OD["gpu"] else None


def od_train_resources():
    """As lm_train's: lm_train's resource model on own_data's model and sizing bounds."""
    if not OD["gpu"]:
        return CPU_TRAINING_RESOURCES
    return gpu_job_resources(OD["gpus_per_job"], OD_ESTIMATE.mem_mb,
                             lambda wildcards, attempt: OD_ESTIMATE.runtime(attempt))


def od_train_threads():
    return job_threads(OD["gpu"], OD["gpus_per_job"])


def own_data_outputs():
    return [f"{OD_DIR}/report.md", f"{OD_DIR}/results.csv"]


