"""Swap a finished folder into place, so readers see the old one or the new one, never half."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_folder(staging: Path, target: Path) -> None:
    """Move the complete `staging` folder to `target`, replacing what was there.

    The old folder is renamed aside first and deleted only after the new one is in place.
    """
    previous = target.with_name(f".{target.name}.previous")
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        os.replace(target, previous)
    os.replace(staging, target)
    if previous.exists():
        shutil.rmtree(previous)
