"""§6's indirect method: score the anonymous training pairs with the per-type reward models of
one seed, average them, relabel deterministically → indirect.jsonl for plain DPO.

Resumable: finished chunks of scores are kept in <output dir>/chunks/ (not an output, so Snakemake
leaves it when a job fails or hits its time limit) and a rerun scores only the rest; the folder is
removed once the outputs are written."""
import shutil
from pathlib import Path

from hetpref.lm.data.jsonl import read_jsonl, write_jsonl
from hetpref.lm.data.tokenization import load_tokenizer
from hetpref.lm.evaluation.indirect import relabel_by_average_reward, reward_differences
from hetpref.provenance import write_json
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    tokenizer = load_tokenizer(p.model, inp.tokenizer)
    records = read_jsonl(inp.pairs)
    chunks = Path(out.data).parent / "chunks"
    per_type_h = reward_differences(inp.adapters, records, chunks, tokenizer=tokenizer, device=p.device,
                                    max_length=p.max_length, log=log)
    relabelled, info = relabel_by_average_reward(records, per_type_h)
    write_jsonl(out.data, relabelled)
    write_json(out.info, info)
    shutil.rmtree(chunks, ignore_errors=True)
    log.info("indirect relabelling: %s", info)
