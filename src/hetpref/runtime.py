"""Helpers for the workflow's thin scripts: logging into the rule's ``log:`` file (which
Snakemake does not redirect by itself) of everything the library logs or warns, torch threads
from the rule's ``threads:``, and errors that are logged before they propagate (never swallowed).

A user's mistake (:class:`InputError`: a file, config value or model that cannot be used) is
printed as its own message, without a traceback, and the job exits with status 1; the log file
keeps the full traceback for whoever debugs the code. Any other exception is logged with its
traceback and re-raised."""
from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings


class InputError(RuntimeError):
    """An input the user gave (a file, a config value, a model) cannot be used. The message names
    it and says what to do; :func:`script_run` prints only that message (no traceback)."""


def set_torch_threads(threads: int) -> None:
    """Pin torch's intra-op pool to the rule's ``threads:``: two torch jobs with default
    threads on 2 cores were seen to slow each other ~100× in OpenMP spin-waits."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    with contextlib.suppress(RuntimeError):  # may only be set once per process
        torch.set_num_interop_threads(1)


LIBRARY_LOGGER = "hetpref"  # every module logs under it (hetpref.<package>.<module>)
WARNINGS_LOGGER = "py.warnings"  # where logging.captureWarnings sends warnings.warn


def _capturing_warnings() -> bool:
    """Whether :func:`logging.captureWarnings` is on (warnings.showwarning is logging's)."""
    show = warnings.showwarning
    return getattr(show, "__module__", None) == "logging" and getattr(show, "__name__", None) == "_showwarning"


@contextlib.contextmanager
def job_logging(log_path=None):
    """Route the ``hetpref`` logger tree and Python's ``warnings`` (through
    :func:`logging.captureWarnings`) to stderr (INFO and above) and to ``log_path`` (everything):
    what the library logs anywhere below ``hetpref`` — a skipped item, a dropped pair — and what
    it or a dependency warns reach the job's ``log:`` file. Restores the previous state on exit."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers = [logging.StreamHandler(sys.stderr)]
    handlers[0].setLevel(logging.INFO)  # the log file also gets tracebacks of input errors (DEBUG)
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
    saved = []
    for name in (LIBRARY_LOGGER, WARNINGS_LOGGER):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.level, logger.propagate))
        logger.handlers.clear()
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # Snakemake configures the root logger; avoid duplicate lines
        for h in handlers:
            logger.addHandler(h)
    was_capturing = _capturing_warnings()
    logging.captureWarnings(True)
    try:
        yield logging.getLogger(LIBRARY_LOGGER)
    finally:
        if not was_capturing:  # a caller that captured warnings before keeps capturing them
            logging.captureWarnings(False)
        for logger, old_handlers, level, propagate in saved:
            logger.handlers[:] = old_handlers
            logger.setLevel(level)
            logger.propagate = propagate
        for h in handlers:
            h.close()


@contextlib.contextmanager
def script_run(smk, torch_threads: bool = False):
    """Context for a workflow script: logs to ``smk.log[0]`` (and stderr) with
    :func:`job_logging`, sets threads, times the body, and logs any exception with its traceback
    before re-raising it. Yields the ``hetpref`` logger."""
    log_path = smk.log[0] if len(smk.log) else None
    with job_logging(log_path) as logger:
        if torch_threads:
            set_torch_threads(smk.threads)
        logger.info("rule %s, wildcards %s, threads %s", getattr(smk, "rule", "?"), dict(smk.wildcards),
                    smk.threads)
        t0 = time.perf_counter()
        try:
            yield logger
        except InputError as exc:
            logger.error("%s", exc)
            logger.debug("traceback of the error above (for debugging the code, not the input):", exc_info=True)
            raise SystemExit(1) from exc
        except BaseException:
            logger.exception("failed after %.1f s", time.perf_counter() - t0)
            raise
        logger.info("done in %.1f s", time.perf_counter() - t0)
