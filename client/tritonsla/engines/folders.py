"""Staging folders: a build writes a hidden folder that replaces the real one only when complete.

engines/.<profile>.building-<key> becomes engines/<profile> by rename (same file system, so the
switch is atomic per folder) through `tritonsla.folders.replace_folder` with owner `OWNER`: only
a folder that is missing, empty or marked as an earlier build's output is replaced, unless forced.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

OWNER = "tritonsla engines"
"""Marker owner of the engine and converted-checkpoint folders under engines_dir."""


def discard(folder: Path) -> None:
    """Delete `folder` if it exists (a failed or stale staging folder)."""
    shutil.rmtree(folder, ignore_errors=True)


def fresh(staging: Path) -> None:
    """Before a build into `staging` (`.<name>.building-<key>`): remove it and any staging
    folder a crashed run left for the same name; make sure the parent exists (tools create
    the folder itself)."""
    stem = staging.name.rpartition("-")[0]
    if staging.parent.is_dir():
        for old in staging.parent.glob(f"{stem}-*"):
            discard(old)
    staging.parent.mkdir(parents=True, exist_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
