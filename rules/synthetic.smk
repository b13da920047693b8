# Synthetic experiment (paper §7.2): exact oracles, one training job per method × n × seed.


rule synthetic_oracles:
    output:
        npz="results/synthetic/oracles.npz",
        json="results/synthetic/oracles.json",
    params:
        environment=SYN["environment"],
        corrected_dpo=SYN["corrected_dpo"],
    log:
        "logs/synthetic/oracles.log",
    benchmark:
        "benchmarks/synthetic/oracles.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_oracles.py"


rule synthetic_joint_model:
    output:
        model="results/synthetic/n{n}/joint_model/seed{seed}/joint_model.pt",
        provenance="results/synthetic/n{n}/joint_model/seed{seed}/provenance.json",
    params:
        environment=SYN["environment"],
        train=SYN["train"],
        corrected_dpo=SYN["corrected_dpo"],
    log:
        "logs/synthetic/n{n}/joint_model/seed{seed}.log",
    benchmark:
        "benchmarks/synthetic/n{n}/joint_model/seed{seed}.tsv"
    threads: 1  # tiny models: more threads only add synchronisation
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_joint_model.py"


rule synthetic_train:
    input:
        unpack(synthetic_train_inputs),
    output:
        policy="results/synthetic/n{n}/{method}/seed{seed}/policy.npy",
        metrics="results/synthetic/n{n}/{method}/seed{seed}/metrics.json",
        provenance="results/synthetic/n{n}/{method}/seed{seed}/provenance.json",
    params:
        environment=SYN["environment"],
        train=SYN["train"],
        corrected_dpo=SYN["corrected_dpo"],
        ipo_tau=SYN.get("ipo_tau", 0.1),
    log:
        "logs/synthetic/n{n}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/synthetic/n{n}/{method}/seed{seed}.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_train.py"


rule synthetic_table:
    input:
        metrics=main_metrics(),
    output:
        csv=report(
            "results/synthetic/table.csv",
            caption="../report/synthetic_table.rst",
            category="Synthetic (§7.2)",
        ),
    log:
        "logs/synthetic/table.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_table.py"


rule synthetic_sweep_table:
    input:
        metrics=sweep_metrics(),
    output:
        csv="results/synthetic/sweep.csv",
    log:
        "logs/synthetic/sweep_table.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_table.py"


rule synthetic_checks:
    input:
        unpack(synthetic_check_inputs),
    output:
        json="results/synthetic/checks.json",
        md=report(
            "results/synthetic/checks.md",
            caption="../report/synthetic_checks.rst",
            category="Synthetic (§7.2)",
        ),
    log:
        "logs/synthetic/checks.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_checks.py"
