"""Download Anthropic HH-RLHF (the configured subsets, train and test) with retries and recorded,
verified sha256 checksums (recorded once a file has been read to the end and parsed); offline,
fail with a message saying how to place the files by hand."""
from pathlib import Path

from hetpref.lm.data.hh_rlhf import SPLITS, download_hh_rlhf
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p = snakemake.params
    data_dir = Path(snakemake.output.manifest).parent
    files = download_hh_rlhf(data_dir, p.subsets, SPLITS, retries=p.retries,
                             max_malformed_share=p.max_malformed_share, log=log.info)
    for (subset, split), path in sorted(files.items()):
        log.info("%s/%s: %s (%d bytes)", subset, split, path, Path(path).stat().st_size)
