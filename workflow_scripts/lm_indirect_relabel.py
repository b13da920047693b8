"""§6's indirect method: score the anonymous training pairs with the per-type reward models of
one seed, average them, relabel deterministically → indirect.jsonl for plain DPO."""
from hetpref.lm.evaluate import evaluate_run
from hetpref.lm.indirect import relabel_by_average_reward
from hetpref.lm.jsonl import read_jsonl, write_jsonl
from hetpref.lm.tokenization import load_tokenizer
from hetpref.provenance import write_json
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:  # noqa: F821
    inp, out, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    tokenizer = load_tokenizer(p.model, inp.tokenizer)
    records = read_jsonl(inp.pairs)
    per_type_h = []
    for adapter in inp.adapters:
        _, rows = evaluate_run(adapter, tokenizer, records, objective="reward", device=p.device,
                               max_length=p.max_length)
        h_by_id = {row["id"]: row["h"] for row in rows}
        per_type_h.append([h_by_id[rec["id"]] for rec in records])
    relabelled, info = relabel_by_average_reward(records, per_type_h)
    write_jsonl(out.data, relabelled)
    write_json(out.info, info)
    log.info("indirect relabelling: %s", info)
