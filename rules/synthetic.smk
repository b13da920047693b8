# Synthetic experiment (paper §7.2): exact oracles; one training job per (n, seed) that fits every
# method on that dataset (anonymous-label methods side by side, see hetpref.synthetic.train);
# the heterogeneity sweep; the noise floor of the tabular fit; tables and checks.


rule synthetic_oracles:
    output:
        npz="results/synthetic/oracles.npz",
        json="results/synthetic/oracles.json",
    params:
        environment=SYN["environment"],
        corrected_dpo=CDPO,
    log:
        "logs/synthetic/oracles.log",
    benchmark:
        "benchmarks/synthetic/oracles.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_oracles.py"


rule synthetic_train:
    # the main runs: every method of synthetic.methods (all α, both variance arms) on one seed
    input:
        oracles="results/synthetic/oracles.npz",
    output:
        **synthetic_job_outputs("results/synthetic/n{n}", MAIN_METHODS),
    wildcard_constraints:
        n=str(MAIN_N),
    params:
        methods=MAIN_METHODS,
        environment=SYN["environment"],
        train=SYN["train"],
        corrected_dpo=CDPO,
        ipo_tau=SYN["ipo_tau"],
    log:
        "logs/synthetic/n{n}/seed{seed}.log",
    benchmark:
        "benchmarks/synthetic/n{n}/seed{seed}.tsv"
    threads: 1  # tiny models: more threads only add synchronisation
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_train.py"


use rule synthetic_train as synthetic_sweep_train with:
    # the sample-size sweep's runs that the main jobs do not already make
    output:
        **synthetic_job_outputs("results/synthetic/sweep/n{n}", SWEEP_METHODS),
    wildcard_constraints:
        n=_regex(SYN["sweep"]["n_preferences"]),
    params:
        methods=SWEEP_METHODS,
        environment=SYN["environment"],
        train=SYN["train"],
        corrected_dpo=CDPO,
        ipo_tau=SYN["ipo_tau"],
    log:
        "logs/synthetic/sweep/n{n}/seed{seed}.log",
    benchmark:
        "benchmarks/synthetic/sweep/n{n}/seed{seed}.tsv"


rule synthetic_heterogeneity:
    # one point of the heterogeneity sweep, every seed: exact limits and trained policies
    output:
        metrics=heterogeneity_files("metrics.csv"),
        policies=heterogeneity_files("policies.npz"),
        provenance=heterogeneity_files("provenance.json"),
    params:
        seeds=HET["seeds"],
        point=heterogeneity_point,
        methods=HET_METHODS,
        n_preferences=HET["n_preferences"],
        alpha=HET["corrected_dpo_alpha"],
        train=SYN["train"],
        corrected_dpo=CDPO,
    log:
        "logs/synthetic/heterogeneity/{point}.log",
    benchmark:
        "benchmarks/synthetic/heterogeneity/{point}.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_heterogeneity.py"


rule synthetic_empirical_limits:
    # exact minimisers of the losses on the first seed's own data: the tabular noise floor
    input:
        oracles="results/synthetic/oracles.npz",
    output:
        csv="results/synthetic/empirical_limits.csv",
    params:
        environment=SYN["environment"],
        corrected_dpo=CDPO,
        sizes=empirical_limit_sizes(),
        seed=SYN["seeds"][0],
    log:
        "logs/synthetic/empirical_limits.log",
    benchmark:
        "benchmarks/synthetic/empirical_limits.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_empirical_limits.py"


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
        metrics=sweep_metrics,
    output:
        csv="results/synthetic/sweep.csv",
    log:
        "logs/synthetic/sweep_table.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_table.py"


rule synthetic_heterogeneity_table:
    input:
        metrics=heterogeneity_metrics,
    output:
        csv=report(
            "results/synthetic/heterogeneity.csv",
            caption="../report/synthetic_heterogeneity.rst",
            category="Synthetic (§7.2)",
        ),
    log:
        "logs/synthetic/heterogeneity_table.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_heterogeneity_table.py"


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
    params:
        first_seed=SYN["seeds"][0],
    log:
        "logs/synthetic/checks.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_checks.py"


rule synthetic:
    # the whole synthetic stage: `snakemake --cores 2 synthetic`
    input:
        synthetic_outputs(),
    localrule: True
