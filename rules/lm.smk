# Semi-synthetic LM experiment (paper §7.3, App. F): HH-RLHF (or demo data) → token counts →
# length-based relabelling → one LoRA training job per objective × dataset × seed → evaluation
# against r̄'s order → Figure 5 and the per-seed tables. GPU rules declare gpus only when
# lm.gpu is true (training: lm.gpus_per_job, one data-parallel process each); nothing probes CUDA
# while the DAG is built.


# Only the manifest is the output: Snakemake deletes a job's outputs before it runs and after it
# fails, which would throw away files placed by hand (the offline route) and files already
# fetched when a later one fails. The script verifies and records each file (hetpref.lm.data.hh_rlhf).
rule lm_download:
    output:
        manifest=f"{LM['data_dir']}/manifest.json",
    params:
        subsets=LM["subsets"],
        retries=2,  # inside the script, per file, with backoff; Snakemake's retries re-run the whole rule
        max_malformed_share=LM["max_malformed_share"],
    log:
        "logs/lm/download.log",
    retries: 2
    localrule: True
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_download.py"


# A hub id (lm.model = namespace/name): its weights are fetched once, here on the submit host,
# into HF_HOME (shared with the GPU nodes); the jobs then read the cache and need no network
# (run them with HF_HUB_OFFLINE=1). Requested by lm_data only for hub ids (lm_data_inputs).
rule lm_stage_model:
    output:
        snapshot=f"{LM_DIR}/model_snapshot.json",
    params:
        model=LM["model"],
    log:
        f"logs/lm/{LM_TAG}/stage_model.log",
    retries: 2
    localrule: True
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_stage_model.py"


rule lm_data:
    input:
        lm_data_inputs,
    output:
        **{name: f"{LM_DIR}/data/{name}.jsonl" for name in LM_DATASET_FILES},
        **{f"{name}_manifest": f"{LM_DIR}/data/{name}.manifest.json" for name in LM_DATASET_FILES},
        lengths=f"{LM_DIR}/data/lengths.csv",
        tokenizer=directory(f"{LM_DIR}/tokenizer"),
        summary=f"{LM_DIR}/data/summary.json",
    params:
        source=LM["source"],
        data_dir=LM["data_dir"],
        subsets=LM["subsets"],
        local_split=LM["local_split"],
        seed=LM["label_seed"],
        tokenizer=LM["model"],
        max_length=LM["max_length"],
        demo_dir="resources/hh-rlhf-demo",
        demo_seed=LM["demo"]["seed"],
        demo_pairs={"train": LM["demo"]["train_pairs"], "test": LM["demo"]["test_pairs"]},
        vocab_size=LM["tiny"]["vocab_size"],
        retries=3,
        max_malformed_share=LM["max_malformed_share"],
    log:
        f"logs/lm/{LM_TAG}/data.log",
        report=f"logs/lm/{LM_TAG}/data_report.json",  # per-file counts, kept when the job stops
    benchmark:
        f"benchmarks/lm/{LM_TAG}/data.tsv"
    threads: 2
    # the LM chain (data → training → evaluation → report) holds the longest jobs: start it
    # first and let the many short jobs fill the cores around it, not trail it at the end
    priority: 30
    resources:
        **lm_job_resources("lm_data"),
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_data.py"


rule lm_oracle:
    input:
        lengths=f"{LM_DIR}/data/lengths.csv",
    output:
        table=f"{LM_DIR}/length_oracle.csv",
        ceilings=f"{LM_DIR}/length_oracle_ceilings.json",
        dpo_bound=f"{LM_DIR}/dpo_length_prior.csv",
    log:
        f"logs/lm/{LM_TAG}/oracle.log",
    threads: 1
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_oracle.py"


# Training and the test-set evaluation of a run are one job: the evaluation needs the trained
# model, which a separate job would rebuild after importing torch, transformers and peft again
# (8–9 s per run on a CPU, a second load of the base model and a second queue wait on a cluster),
# for a forward pass over the test pairs that costs a few seconds on a CPU and under a minute on
# a GPU at paper scale. A training resumed after a failure picks up its last checkpoint.
rule lm_train:
    input:
        train=lm_train_data,
        tokenizer=f"{LM_DIR}/tokenizer",
        test=f"{LM_DIR}/data/test.jsonl",
    output:
        adapter=directory(f"{LM_DIR}/runs/{{objective}}/{{dataset}}/seed{{seed}}/adapter"),
        metrics=f"{LM_DIR}/runs/{{objective}}/{{dataset}}/seed{{seed}}/metrics.json",
        provenance=f"{LM_DIR}/runs/{{objective}}/{{dataset}}/seed{{seed}}/provenance.json",
        test_metrics=f"{LM_DIR}/runs/{{objective}}/{{dataset}}/seed{{seed}}/test_metrics.json",
        test_scores=f"{LM_DIR}/runs/{{objective}}/{{dataset}}/seed{{seed}}/test_scores.csv",
    params:
        model=LM["model"],
        tiny=lm_tiny_config(),
        train=lm_train_params,
        eval=lm_eval_params,
        device=LM_DEVICE,
        processes=LM["gpus_per_job"],  # > 1: torchrun with that many data-parallel processes
    log:
        f"logs/lm/{LM_TAG}/train/{{objective}}_{{dataset}}_seed{{seed}}.log",
    benchmark:
        f"benchmarks/lm/{LM_TAG}/train/{{objective}}_{{dataset}}_seed{{seed}}.tsv"
    threads: lm_job_threads("lm_train")
    priority: 20  # the longest jobs first (see lm_data)
    resources:
        **lm_job_resources("lm_train"),
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_train.py"


rule lm_per_type_split:
    input:
        per_type=f"{LM_DIR}/data/per_type.jsonl",
    output:
        [f"{LM_DIR}/data/per_type_u{k}.jsonl" for k in LM_TYPES],
    log:
        f"logs/lm/{LM_TAG}/per_type_split.log",
    localrule: True
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_per_type_split.py"


rule lm_indirect_relabel:
    input:
        pairs=f"{LM_DIR}/data/anonymous.jsonl",
        tokenizer=f"{LM_DIR}/tokenizer",
        adapters=[f"{LM_DIR}/runs/reward/per_type_u{k}/seed{{seed}}/adapter" for k in LM_TYPES],
    output:
        data=f"{LM_DIR}/indirect/seed{{seed}}/indirect.jsonl",
        info=f"{LM_DIR}/indirect/seed{{seed}}/info.json",
    params:
        model=LM["model"],
        device=LM_DEVICE,
        max_length=LM["max_length"],
    log:
        f"logs/lm/{LM_TAG}/indirect_relabel_seed{{seed}}.log",
    threads: lm_job_threads("lm_indirect_relabel")
    resources:
        **lm_job_resources("lm_indirect_relabel"),
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_indirect_relabel.py"


rule lm_report:
    input:
        metrics=lm_test_metrics(),
        ceilings=f"{LM_DIR}/length_oracle_ceilings.json",
    output:
        csv=report(
            f"{LM_DIR}/seed_table.csv", caption="../report/lm_table.rst", category="LM (§7.3)", subcategory=LM_TAG
        ),
        latex=f"{LM_DIR}/seed_table.tex",
        summary=f"{LM_DIR}/summary.csv",
        figure=f"results/figures/fig5{LM_SUFFIX}.pdf",
        png=report(
            f"results/figures/fig5{LM_SUFFIX}.png", caption="../report/fig5.rst", category="LM (§7.3)", subcategory=LM_TAG
        ),
    params:
        paper=True,
        modelling_dataset=LM_MODELLING_DATASET,
        title=f"Figure 5 ({LM_TAG})",
    log:
        f"logs/lm/{LM_TAG}/report.log",
    localrule: True
    conda:
        "../envs/lm.yaml"
    script:
        "../workflow_scripts/lm_report.py"


rule fig5:
    input:
        rules.lm_report.output,
    localrule: True
