# Figures. Each rule is named after the paper's figure, so `snakemake --cores 2 fig4a` builds
# one figure and only what it needs.


rule fig3:
    input:
        oracles="results/synthetic/oracles.npz",
    output:
        pdf="results/figures/fig3.pdf",
        png=report(
            "results/figures/fig3.png", caption="../report/fig3.rst", category="Synthetic (§7.2)"
        ),
    params:
        figure="fig3",
    log:
        "logs/figures/fig3.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig4a:
    input:
        oracles="results/synthetic/oracles.npz",
        dpo=main_runs(DPO),
        nbc=main_runs(NBC_COUNTS) if NBC_COUNTS in MAIN_METHODS else [],
    output:
        pdf="results/figures/fig4a.pdf",
        png=report(
            "results/figures/fig4a.png", caption="../report/fig4a.rst", category="Synthetic (§7.2)"
        ),
    params:
        figure="fig4a",
    log:
        "logs/figures/fig4a.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig4b:
    input:
        oracles="results/synthetic/oracles.npz",
        cdpo=fig4b_runs(ESTIMATED),
        cdpo_oracle=fig4b_runs(ORACLE),
    output:
        pdf="results/figures/fig4b.pdf",
        png=report(
            "results/figures/fig4b.png", caption="../report/fig4b.rst", category="Synthetic (§7.2)"
        ),
    params:
        figure="fig4b",
        alphas=SYN["corrected_dpo"]["alphas"],
    log:
        "logs/figures/fig4b.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig4c:
    input:
        oracles="results/synthetic/oracles.npz",
        consistent=main_runs(CONSISTENT),
        consistent_metrics=main_runs(CONSISTENT, "metrics.json"),
    output:
        pdf="results/figures/fig4c.pdf",
        png=report(
            "results/figures/fig4c.png", caption="../report/fig4c.rst", category="Synthetic (§7.2)"
        ),
    params:
        figure="fig4c",
    log:
        "logs/figures/fig4c.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig_sweep:
    input:
        oracles="results/synthetic/oracles.npz",
        oracle_summary="results/synthetic/oracles.json",
        sweep="results/synthetic/sweep.csv",
    output:
        pdf="results/figures/fig_sweep.pdf",
        png=report(
            "results/figures/fig_sweep.png", caption="../report/fig_sweep.rst", category="Synthetic (§7.2)"
        ),
    params:
        figure="sweep",
    log:
        "logs/figures/fig_sweep.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig_heterogeneity:
    input:
        heterogeneity="results/synthetic/heterogeneity.csv",
    output:
        pdf="results/figures/fig_heterogeneity.pdf",
        png=report(
            "results/figures/fig_heterogeneity.png",
            caption="../report/fig_heterogeneity.rst",
            category="Synthetic (§7.2)",
        ),
    params:
        figure="heterogeneity",
    log:
        "logs/figures/fig_heterogeneity.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/synthetic_figures.py"


rule fig4:
    input:
        figure("fig4a") + figure("fig4c") + (figure("fig4b") if CORRECTED_DPO in SYN["methods"] else []),
    localrule: True


# ---------------------------------------------------------------- Pew (§7.1); names end in _demo on demo data
rule fig1:
    input:
        questions=f"{PEW_DIR}/questions.csv",
    output:
        pdf=pew_figure("fig1")[0],
        png=report(
            pew_figure("fig1")[1],
            caption="../report/fig1.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
    params:
        figure="fig1",
        mode=PEW_MODE,
        ev_question=PEW_EV_QUESTION,
    log:
        "logs/figures/fig1.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_figures.py"


rule fig2:
    input:
        questions=f"{PEW_DIR}/questions.csv",
    output:
        pdf=pew_figure("fig2")[0],
        png=report(
            pew_figure("fig2")[1],
            caption="../report/fig2.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
    params:
        figure="fig2",
        mode=PEW_MODE,
    log:
        "logs/figures/fig2.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_figures.py"


rule fig8:
    input:
        questions=f"{PEW_DIR}/questions.csv",
    output:
        pdf=pew_figure("fig8")[0],
        png=report(
            pew_figure("fig8")[1],
            caption="../report/fig8.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
    params:
        figure="fig8",
        mode=PEW_MODE,
        ev_question=PEW_EV_QUESTION,
    log:
        "logs/figures/fig8.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_figures.py"


rule fig6_10:
    input:
        questions=f"{PEW_DIR}/questions.csv",
    output:
        folder=report(
            directory(f"results/figures/fig6-10{PEW_SUFFIX}"),
            patterns=["{name}.png"],
            caption="../report/fig6_10.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
    params:
        figure="fig6_10",
        mode=PEW_MODE,
        questions=PEW["figure_questions"],
    log:
        "logs/figures/fig6_10.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_figures.py"


rule fig_partitions:
    input:
        partitions=f"{PEW_DIR}/partitions.csv",
    output:
        pdf=pew_figure("fig_partitions")[0],
        png=report(
            pew_figure("fig_partitions")[1],
            caption="../report/fig_partitions.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
    params:
        figure="fig_partitions",
        mode=PEW_MODE,
    log:
        "logs/figures/fig_partitions.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_figures.py"
