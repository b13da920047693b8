# Claims report (paper §3–6, App. A, App. C): every worked example and proposition, computed
# on an explicit instance and checked (PASS/FAIL); the report is readable on its own.


rule claims_report:
    output:
        json="results/claims/claims.json",
        md=report("results/claims/claims.md", caption="../report/claims.rst", category="Claims"),
        pdf="results/claims/claims.pdf",
        png=report("results/claims/claims.png", caption="../report/claims.rst", category="Claims"),
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
