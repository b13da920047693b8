"""Exact length-only ceilings of the LM experiment (beyond the paper): per labelling, the
population-optimal BT scorer over token counts fitted on the training lengths, and its agreement
with r̄'s order on the test split (hetpref.lm.evaluation.length_oracle), for every labelling with an exact label
law (hetpref.lm.names.LABELLINGS).

snakemake.input:  lengths (CSV written by lm_data: split, id, n_chosen, n_rejected)
snakemake.output: table (CSV: one row per labelling: agreement, n_test, cross_entropy, kl, ...),
                  scores (optional CSV: labelling, n, score), ceilings (optional JSON {label: percent},
                  the format lm_report's `ceilings` input reads), dpo_bound (optional CSV: how far DPO with a
                  uniform reference can move from "shorter wins",
                  hetpref.lm.evaluation.length_oracle.dpo_length_prior_bound)
"""
import json
from pathlib import Path

import pandas as pd

from hetpref.lm.evaluation.length_oracle import dpo_length_prior_bound, oracle_table, scores_table
from hetpref.lm.names import LABELLINGS
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=False) as log:
    inp, out = snakemake.input, snakemake.output
    lengths = pd.read_csv(inp.lengths)
    train, test = lengths[lengths.split == "train"], lengths[lengths.split == "test"]
    if train.empty or test.empty:
        raise ValueError(f"{inp.lengths} needs train and test rows (has {len(train)} and {len(test)})")
    table, scorers = oracle_table(train.n_chosen.to_numpy(), train.n_rejected.to_numpy(), test.n_chosen.to_numpy(),
                                  test.n_rejected.to_numpy(), list(LABELLINGS))
    table.to_csv(out.table, index=False)
    if getattr(out, "scores", None):
        scores_table(scorers).to_csv(out.scores, index=False)
    if getattr(out, "ceilings", None):
        Path(out.ceilings).write_text(json.dumps(
            {f"length ceiling ({r.labelling})": round(100 * r.agreement, 4) for r in table.itertuples()},
            indent=2) + "\n")
    if getattr(out, "dpo_bound", None):
        bound = dpo_length_prior_bound(test.n_chosen.to_numpy(), test.n_rejected.to_numpy())
        bound.to_csv(out.dpo_bound, index=False)
        for r in bound.itertuples():
            log.info("DPO (uniform reference) at %.0f nats/token and an eos range of %.0f nats: %.1f%% of test pairs "
                     "can leave the length prior; agreement ≤ %.1f%% (shorter-wins %.1f%%)", r.nats_per_token,
                     r.eos_range_nats, 100 * r.flippable_share, 100 * r.upper_bound, 100 * r.shorter_wins)
    for r in table.itertuples():
        (log.info if r.converged else log.warning)(
            "%s: test agreement %.4f on %d pairs (%d r̄ ties left out, %d with an unseen length); "
            "KL to the best length-BT %.3g; Newton %d iterations, |grad| %.1e; %d components",
            r.labelling, r.agreement, r.n_test, r.n_test_ties_dropped, r.n_test_unseen_length, r.kl,
            r.iterations, r.grad_max, r.n_components)
        if r.n_components > 1:
            log.warning("%s: the training length pairs form %d disconnected groups: scores of different "
                        "groups are not comparable", r.labelling, r.n_components)
