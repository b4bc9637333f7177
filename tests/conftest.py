"""Shared fixtures: a throwaway copy of the project's deploy and profile files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


class Project:
    """A tmp folder laid out like the project: deploy/, profiles/, assets/, model_repo/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(ROOT / "profiles", root / "profiles")
        shutil.copytree(ROOT / "deploy", root / "deploy")
        (root / "assets" / "tiny-gpt2").mkdir(parents=True)

    @property
    def deploy(self) -> Path:
        return self.root / "deploy" / "cpu.yaml"

    @property
    def out(self) -> Path:
        return self.root / "model_repo"

    def edit(self, relative: str, change) -> Path:
        """Load a YAML file, let `change(data)` mutate it, write it back."""
        path = self.root / relative
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)
