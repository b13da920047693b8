"""Fixtures shared by the LM unit tests (test_lm_train, test_lm_diagnostics, ...)."""
import pytest


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    """A tiny byte-level BPE tokenizer saved as a Hugging Face tokenizer directory."""
    from tests.unit.test_lm_train import make_tokenizer_dir

    return make_tokenizer_dir(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def tok(tok_dir):
    from hetpref.lm.data.tokenization import load_tokenizer

    return load_tokenizer("tiny", tok_dir)
