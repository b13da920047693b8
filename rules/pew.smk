# Pew surveys (paper §4.3, §7.1, App. E): inventory → one job per wave → combined tables;
# beside it, the same analysis under other user-type partitions (one job per wave → one table).


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
        counts=pew_counts_inputs,
    output:
        inventory=f"{PEW_DIR}/inventory.csv",
        report=f"{PEW_DIR}/data_report.md",
    params:
        mode=PEW_MODE,
        manifest=PEW["manifest"],
        type_columns=PEW["type_columns"],
        partitions=PEW["partitions"],
        refused_codes=PEW["refused_codes"],
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
        partitions=PEW["partitions"],
        filters=PEW_FILTERS,
        analysis=PEW_ANALYSIS,
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
        data_dir=PEW["data_dir"],
        report=f"{PEW_DIR}/data_report.md",
    log:
        f"logs/pew/{PEW_MODE}/combine.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_combine.py"


rule pew_partitions_wave:
    input:
        data=pew_wave_input,
    output:
        questions=f"{PEW_DIR}/partitions/waves/{{wave}}/questions.csv",
        skipped=f"{PEW_DIR}/partitions/waves/{{wave}}/skipped.csv",
        coverage=f"{PEW_DIR}/partitions/waves/{{wave}}/coverage.csv",
    params:
        kind=pew_wave_kind,
        type_columns=PEW["type_columns"],
        partitions=PEW["partitions"],
        filters=PEW_FILTERS,
        analysis=PEW_ANALYSIS,
    log:
        f"logs/pew/{PEW_MODE}/partitions_{{wave}}.log",
    benchmark:
        f"benchmarks/pew/{PEW_MODE}/partitions_{{wave}}.tsv"
    threads: 1
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_partitions_wave.py"


rule pew_partitions:
    input:
        unpack(pew_partitions_inputs),
    output:
        table=report(
            f"{PEW_DIR}/partitions.csv",
            caption="../report/pew_partitions.rst",
            category="Pew surveys (§7.1)",
            subcategory=PEW_MODE_LABEL,
        ),
        table_md=f"{PEW_DIR}/partitions.md",
        questions=f"{PEW_DIR}/partitions/questions.csv",
        skipped=f"{PEW_DIR}/partitions/skipped.csv",
        coverage=f"{PEW_DIR}/partitions/coverage.csv",
    params:
        mode=PEW_MODE,
        partitions=PEW["partitions"],
        report=f"{PEW_DIR}/data_report.md",
    log:
        f"logs/pew/{PEW_MODE}/partitions.log",
    localrule: True
    conda:
        "../envs/hetpref.yaml"
    script:
        "../workflow_scripts/pew_partitions.py"
