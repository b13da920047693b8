# Your own annotator data (docs/spec.md §4): adapter → views of the training annotators → one LoRA
# training job per loss × seed (DPO on the anonymous view, the consistent loss on the unanimous
# pairs of the per-type view, corrected DPO with Eq. 19's V̂ from the same-annotator pairs), each
# evaluated on the held-out annotators in the same job → report. Off by default (own_data.enabled);
# the own_data target runs it on request. Training jobs are sized by the resource model of lm_train
# (hetpref.lm.resources), so the SLURM profile runs them on GPUs unchanged.
OD = config["own_data"]
OD_DIR = f"results/own_data/{OD['adapter']}"
OD_DEVICE = "cuda" if OD["gpu"] else "cpu"
OD_LOSSES = list(OD["losses"])


def od_source():
    """The data the adapter reads: own_data.source, or the adapter's shipped fixture."""
    if OD["source"] is not None:
        return OD["source"]
    from hetpref.annotators.pipeline import fixture_source

    return str(fixture_source(OD["adapter"]))


def od_source_input(wildcards):
    """A local source is an input (a changed file reruns the views); a hub id is not a file."""
    return [od_source()] if os.path.exists(od_source()) else []


def od_train_params(wildcards):
    """LMTrainConfig fields from own_data.train (tiny: lr_tiny), the loss and the reference."""
    train = {k: v for k, v in OD["train"].items() if k != "lr_tiny"}
    if OD["model"] == "tiny":
        train["lr"] = OD["train"]["lr_tiny"]
    if wildcards.loss == "corrected_dpo":
        train["loss"] = "corrected_dpo"
    train["dpo_scoring"] = "base_reference" if OD["reference"] == "base" else "response_sum"
    train["max_length"] = OD["max_length"]
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
    if not OD["gpu"]:
        return {"gpu": 0, "mem_mb": 4000, "runtime": 60}
    return {
        "gpu": OD["gpus_per_job"],
        "nodes": 1,
        "cpus_per_gpu": lm_res.CPUS_PER_GPU,
        "mem_mb": OD_ESTIMATE.mem_mb,
        "runtime": lambda wildcards, attempt: OD_ESTIMATE.runtime(attempt),
    }


def od_train_threads():
    return lm_res.CPUS_PER_GPU * OD["gpus_per_job"] if OD["gpu"] else OD["gpus_per_job"]


def own_data_outputs():
    return [f"{OD_DIR}/report.md", f"{OD_DIR}/results.csv"]


rule own_data_views:
    input:
        od_source_input,
    output:
        **{loss: f"{OD_DIR}/views/{loss}.jsonl" for loss in ("dpo", "consistent", "corrected_dpo")},
        test=f"{OD_DIR}/views/test_judgements.jsonl",
        test_per_type=f"{OD_DIR}/views/test_per_type.csv",
        split=f"{OD_DIR}/views/annotator_split.csv",
        variance=f"{OD_DIR}/views/variance.json",
        summary=f"{OD_DIR}/views/summary.json",
        tokenizer=directory(f"{OD_DIR}/tokenizer"),
    params:
        source=od_source(),
        adapter=OD["adapter"],
        options=OD["options"],
        type_attribute=OD["type_attribute"],
        losses=OD_LOSSES,
        views=OD["views"],
        evaluation=OD["evaluation"],
        variance=OD["variance"],
        model=OD["model"],
        vocab_size=OD["tiny"]["vocab_size"],
    log:
        f"logs/own_data/{OD['adapter']}/views.log",
    threads: 1
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/own_data_views.py"


rule own_data_train:
    input:
        train=f"{OD_DIR}/views/{{loss}}.jsonl",
        tokenizer=f"{OD_DIR}/tokenizer",
        summary=f"{OD_DIR}/views/summary.json",
        test=f"{OD_DIR}/views/test_judgements.jsonl",
        test_per_type=f"{OD_DIR}/views/test_per_type.csv",
    output:
        adapter=directory(f"{OD_DIR}/runs/{{loss}}/seed{{seed}}/adapter"),
        metrics=f"{OD_DIR}/runs/{{loss}}/seed{{seed}}/metrics.json",
        evaluation=f"{OD_DIR}/runs/{{loss}}/seed{{seed}}/evaluation.json",
        scores=f"{OD_DIR}/runs/{{loss}}/seed{{seed}}/test_scores.csv",
    params:
        model=OD["model"],
        tiny={k: v for k, v in OD["tiny"].items() if k != "vocab_size"} if OD["model"] == "tiny" else None,
        train=od_train_params,
        type_attribute=OD["type_attribute"],
        batch_size=OD["evaluation"]["batch_size"],
        device=OD_DEVICE,
        processes=OD["gpus_per_job"],
    wildcard_constraints:
        loss="|".join(OD_LOSSES),
        seed=r"\d+",
    log:
        f"logs/own_data/{OD['adapter']}/train_{{loss}}_seed{{seed}}.log",
    benchmark:
        f"benchmarks/own_data/{OD['adapter']}/train_{{loss}}_seed{{seed}}.tsv"
    threads: od_train_threads()
    resources:
        **od_train_resources(),
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/own_data_train.py"


rule own_data_report:
    input:
        evaluations=[f"{OD_DIR}/runs/{loss}/seed{s}/evaluation.json" for loss in OD_LOSSES for s in OD["seeds"]],
        summary=f"{OD_DIR}/views/summary.json",
        variance=f"{OD_DIR}/views/variance.json",
    output:
        report=f"{OD_DIR}/report.md",
        csv=f"{OD_DIR}/results.csv",
    log:
        f"logs/own_data/{OD['adapter']}/report.log",
    localrule: True
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/own_data_report.py"


rule own_data:
    input:
        own_data_outputs(),
    localrule: True
