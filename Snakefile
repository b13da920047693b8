# hetpref: reproduction of "Direct Alignment with Heterogeneous Preferences" (Shirali et al., 2025).
# Table of contents only: logic lives in rules/common.smk and in the hetpref library.
import os

from snakemake.utils import min_version

min_version("9.19")  # what profiles/slurm/profile.yaml needs (snakemake-executor-plugin-slurm 2.8)


# Anchored at the workflow folder so that `--directory elsewhere` still reads the defaults, and
# any `--configfile` is merged on top of them (nested keys override, the rest is kept).
configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/synthetic.smk"
include: "rules/pew.smk"
include: "rules/claims.smk"
include: "rules/lm.smk"
include: "rules/figures.smk"
include: "rules/own_data.smk"


localrules:
    all,


rule all:
    input:
        final_outputs(),
        own_data_outputs() if config["own_data"]["enabled"] else [],
    default_target: True
