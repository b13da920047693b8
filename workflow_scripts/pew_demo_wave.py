"""Write one deterministic demo Pew wave (.sav, real schema) with pyreadstat."""
from hetpref.pew.demo import write_demo_wave
from hetpref.provenance import write_json
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, wc = snakemake.params, snakemake.wildcards
    number = int(wc.number)
    info = write_demo_wave(snakemake.output.sav, number, seed=p.seed * 1000 + number,
                           n_respondents=p.n_respondents, n_questions=p.n_questions)
    write_json(snakemake.output.truth, info)
    log.info("demo wave W%d: %d questions", number, len(info.get("questions", [])))
