"""One point of the heterogeneity sweep, every seed → per seed metrics.csv (one row per method:
trained and exact TV to π*), policies.npz, provenance.json."""
import numpy as np
import pandas as pd

from hetpref.provenance import provenance, write_json
from hetpref.runtime import script_run
from hetpref.synthetic.config import TrainConfig, config_dict, correction_config
from hetpref.synthetic.heterogeneity import run_point

with script_run(snakemake, torch_threads=True) as log:
    p, out = snakemake.params, snakemake.output
    cfg = TrainConfig(**p.train)
    corr = correction_config(p.corrected_dpo, alpha=p.alpha)
    for seed, metrics, policies, prov in zip(p.seeds, out.metrics, out.policies, out.provenance):
        rows, tables, facts = run_point(p.point, seed, p.n_preferences, cfg, corr, p.alpha, p.methods)
        table = pd.DataFrame(rows)
        log.info("seed %d\n%s", seed, table[["method", "tv_to_optimal", "exact_tv_to_optimal"]].to_string())
        table.to_csv(metrics, index=False)
        np.savez_compressed(policies, **tables)
        write_json(prov, provenance(
            seed, {"point": p.point, "methods": p.methods, "n_preferences": p.n_preferences, **config_dict(cfg, corr)},
            threads=snakemake.threads, **facts))
