# Your own annotator data (docs/spec.md §4): adapter → diagnostics (the `hetpref inspect` report) → views of the training annotators → one LoRA
# training job per loss × seed (DPO on the anonymous view, the consistent loss on the unanimous
# pairs of the per-type view, corrected DPO with Eq. 19's V̂ from the same-annotator pairs), each
# evaluated on the held-out annotators in the same job → report. Off by default (own_data.enabled);
# the own_data target runs it on request. Training jobs are sized by the resource model of lm_train
# (hetpref.lm.resources), so the SLURM profile runs them on GPUs unchanged.


include: "own_data_common.smk"


rule own_data_inspect:
    input:
        od_source_input,
    output:
        report=f"{OD_DIR}/inspect/report.md",
        json=f"{OD_DIR}/inspect/inspect.json",
    params:
        source=OD["source"],
        adapter=OD["adapter"],
        options=OD["options"],
        type_attribute=OD["type_attribute"],
        seed=OD["views"]["seed"],
    log:
        f"logs/own_data/{OD['adapter']}/inspect.log",
    threads: 1
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/own_data_inspect.py"


# The views come after the diagnostics: a view the data cannot support is already explained there.
rule own_data_views:
    input:
        od_source_input,
        inspect=f"{OD_DIR}/inspect/inspect.json",
    output:
        **{loss: f"{OD_DIR}/views/{loss}.jsonl" for loss in ("dpo", "consistent", "corrected_dpo")},
        test=f"{OD_DIR}/views/test_judgements.jsonl",
        test_per_type=f"{OD_DIR}/views/test_per_type.csv",
        split=f"{OD_DIR}/views/annotator_split.csv",
        variance=f"{OD_DIR}/views/variance.json",
        summary=f"{OD_DIR}/views/summary.json",
        tokenizer=directory(f"{OD_DIR}/tokenizer"),
    params:
        source=OD["source"],
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
        inspect=f"{OD_DIR}/inspect/report.md",
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
