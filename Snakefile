# hetpref: reproduction of "Direct Alignment with Heterogeneous Preferences" (Shirali et al., 2025).
# Table of contents only: logic lives in rules/common.smk and in the hetpref library.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/synthetic.smk"
include: "rules/figures.smk"


localrules:
    all,


rule all:
    input:
        final_outputs(),
    default_target: True
