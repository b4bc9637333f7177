"""Deploy-file variants for the Kubernetes render tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tritonsla.profiles.loading import deep_merge

ROOT = Path(__file__).resolve().parents[3]
CPU = ROOT / "deploy" / "cpu.yaml"
H100 = ROOT / "deploy" / "h100-llama8b.yaml"


@pytest.fixture
def variant(tmp_path: Path) -> Callable[..., Path]:
    """A copy of a shipped deploy file with `changes` merged in (None values delete keys)."""

    def make(base: Path = H100, name: str = "deploy.yaml", **changes: object) -> Path:
        data = yaml.safe_load(base.read_text())
        data["profiles_dir"] = str(ROOT / "profiles")
        for key in ("checkpoint", "tokenizer"):
            value = data["model"][key]
            if not value.startswith("/"):
                data["model"][key] = str((base.parent / value).resolve())
        data = deep_merge(data, changes)
        for key, value in changes.items():
            if value is None:
                data.pop(key)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return make
