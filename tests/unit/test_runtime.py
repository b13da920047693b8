"""The workflow scripts' context (hetpref.runtime.script_run): what the library logs anywhere in
the ``hetpref`` tree, and what it warns, lands in the rule's ``log:`` file."""
import logging
import warnings
from types import SimpleNamespace

import pytest

from hetpref.runtime import InputError, script_run


def _smk(log_path):
    return SimpleNamespace(log=[str(log_path)], wildcards={"seed": "0"}, threads=1, rule="some_rule")


def test_library_logs_and_warnings_reach_the_rules_log_file(tmp_path, capsys):
    log_path = tmp_path / "job.log"
    with script_run(_smk(log_path)) as log:
        log.info("from the script")
        logging.getLogger("hetpref.pew.inventory").warning("skipped %s: %s", "W99.sav", "not a Pew wave")
        logging.getLogger("hetpref.lm.train").debug("a detail for the log file only")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
    text = log_path.read_text()
    for line in ("rule some_rule, wildcards {'seed': '0'}", "from the script",
                 "WARNING skipped W99.sav: not a Pew wave", "a detail for the log file only",
                 "UserWarning: a library warning", "done in"):
        assert line in text, (line, text)
    err = capsys.readouterr().err
    assert "skipped W99.sav" in err and "a library warning" in err and "a detail" not in err


def test_the_logging_is_restored_after_the_job(tmp_path):
    before = logging.getLogger("hetpref").handlers[:], logging.getLogger("py.warnings").handlers[:]
    with script_run(_smk(tmp_path / "job.log")):
        pass
    assert (logging.getLogger("hetpref").handlers, logging.getLogger("py.warnings").handlers) == before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("after the job", UserWarning, stacklevel=1)
    assert len(caught) == 1  # warnings are no longer captured into the (closed) log
    assert "after the job" not in (tmp_path / "job.log").read_text()


def test_a_caller_that_captured_warnings_keeps_capturing_them(tmp_path):
    from hetpref.runtime import _capturing_warnings

    logging.captureWarnings(True)
    try:
        with script_run(_smk(tmp_path / "job.log")):
            pass
        assert _capturing_warnings()
    finally:
        logging.captureWarnings(False)
    assert not _capturing_warnings()


def test_an_input_error_is_one_line_on_stderr_and_a_traceback_in_the_log(tmp_path, capsys):
    log_path = tmp_path / "job.log"
    with pytest.raises(SystemExit) as exit_, script_run(_smk(log_path)):
        raise InputError("data/x.csv, row 3: column 'wave' is empty")
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "data/x.csv, row 3: column 'wave' is empty" in err and "Traceback" not in err
    assert "Traceback" in log_path.read_text()
