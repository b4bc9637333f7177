"""Fixtures of the bench unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonsla.text.default_tokenizer import write_default_tokenizer
from tritonsla.text.tokenizer import TextTokenizer, load_tokenizer


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> TextTokenizer:
    """The project's default tokenizer (the one assets/tiny-gpt2 holds), built into tmp."""
    folder: Path = tmp_path_factory.mktemp("tokenizer")
    write_default_tokenizer(folder)
    return load_tokenizer(folder)
