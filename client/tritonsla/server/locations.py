"""Default folders of the server package: the project's `.cache/` (or the user cache)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path | None:
    """The checkout this package runs from (editable install), or None when installed."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """`<project>/.cache`, or `$XDG_CACHE_HOME/triton-sla` outside a checkout."""
    root = project_root()
    if root is not None:
        return root / ".cache"
    user_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(user_cache) / "triton-sla"


def default_backends_dir() -> Path:
    """Where the bundled tritonserver's backends folder is prepared."""
    return cache_dir() / "triton-backends"


def default_run_dir() -> Path:
    """Where a detached server keeps its state file and log."""
    return cache_dir() / "run"
