"""Fixtures of the CPU engine tests: a tiny random GPT-2 checkpoint and its model."""

from __future__ import annotations

from pathlib import Path

import pytest
from cpukit import EOS, TINY, VOCAB

from tritonsla.cpu.checkpoint import load_checkpoint, write_default_checkpoint
from tritonsla.cpu.model import GPT2Model


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_default_checkpoint(tmp_path_factory.mktemp("cpu") / "tiny", VOCAB, EOS, **TINY)


@pytest.fixture(scope="session")
def model(checkpoint_dir: Path) -> GPT2Model:
    return GPT2Model(load_checkpoint(checkpoint_dir))
