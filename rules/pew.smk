# Pew surveys (paper §4.3, §7.1, App. E): inventory → one job per wave → combined tables.


rule pew_demo_wave:
    output:
        sav="resources/pew-demo/demo_W{number}.sav",
        truth="resources/pew-demo/demo_W{number}.truth.json",
    params:
        seed=PEW["demo"]["seed"],
        n_respondents=PEW["demo"]["n_respondents"],
        n_questions=PEW["demo"]["n_questions"],
    log:
        "logs/pew/demo_W{number}.log",
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_demo_wave.py"


checkpoint pew_data:
    input:
        sav=pew_input_files,
    output:
        inventory=f"{PEW_DIR}/inventory.csv",
        report=f"{PEW_DIR}/data_report.md",
    params:
        mode=PEW_MODE,
        manifest=PEW["manifest"],
        type_columns=PEW["type_columns"],
        counts_tables=PEW["counts_tables"],
    log:
        f"logs/pew/{PEW_MODE}/data.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_data.py"


rule pew_wave:
    input:
        data=pew_wave_input,
    output:
        questions=f"{PEW_DIR}/waves/{{wave}}/questions.csv",
        skipped=f"{PEW_DIR}/waves/{{wave}}/skipped.csv",
        bootstrap=f"{PEW_DIR}/waves/{{wave}}/bootstrap.csv",
    params:
        kind=pew_wave_kind,
        type_columns=PEW["type_columns"],
        refused_codes=PEW["refused_codes"],
        min_options=PEW["min_options"],
        min_answers_per_option=PEW["min_answers_per_option"],
        pseudocount=PEW["pseudocount"],
        reward_floor=PEW["reward_floor"],
        temperature=PEW["temperature"],
        alternative_distribution=PEW["alternative_distribution"],
        eps=PEW["eps"],
        delta=PEW["delta"],
        bootstrap=PEW["bootstrap"],
    log:
        f"logs/pew/{PEW_MODE}/{{wave}}.log",
    benchmark:
        f"benchmarks/pew/{PEW_MODE}/{{wave}}.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_wave.py"


rule pew_combine:
    input:
        unpack(pew_combine_inputs),
    output:
        questions=f"{PEW_DIR}/questions.csv",
        skipped=f"{PEW_DIR}/skipped.csv",
        bootstrap=f"{PEW_DIR}/bootstrap.csv",
        summary=report(
            f"{PEW_DIR}/summary.csv",
            caption="../report/pew_summary.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
        summary_md=f"{PEW_DIR}/summary.md",
    params:
        mode=PEW_MODE,
    log:
        f"logs/pew/{PEW_MODE}/combine.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_combine.py"
