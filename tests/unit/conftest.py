"""Fixtures shared by the unit tests: the default tokenizer, written once per session."""

from __future__ import annotations

import pytest

from tritonsla.text.default_tokenizer import write_default_tokenizer
from tritonsla.text.tokenizer import TextTokenizer, load_tokenizer


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> TextTokenizer:
    folder = tmp_path_factory.mktemp("default_tokenizer")
    write_default_tokenizer(folder)
    return load_tokenizer(folder)
