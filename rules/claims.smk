# Claims report (paper §3–6, App. A, App. C): every worked example and proposition, computed
# on an explicit instance and checked (PASS/FAIL); the report is readable on its own.


rule claims_report:
    output:
        json="results/claims/claims.json",
        md="results/claims/claims.md",
        pdf="results/claims/claims.pdf",
        png="results/claims/claims.png",
    params:
        seed=config["claims"]["seed"],
    log:
        "logs/claims/claims.log",
    benchmark:
        "benchmarks/claims/claims.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/claims.py"


rule claims:
    input:
        rules.claims_report.output,
    localrule: True
