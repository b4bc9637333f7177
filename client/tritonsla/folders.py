"""Swap a finished folder into place, so readers see the old one or the new one, never half.

A command replaces only what it owns: a folder that is missing, empty, or marked as its own
earlier output. The mark is the file `.tritonsla-output`, whose line names the owner (for example
`tritonsla render deploy/cpu.yaml`); `replace_folder` writes it into every folder it installs.
Anything else is refused with the path and the flag that allows it (`--force`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tritonsla.errors import TritonSlaError

MARKER = ".tritonsla-output"
"""File that marks a folder as the output of a tritonsla command (its one line: the owner)."""


class FolderError(TritonSlaError):
    """A command would replace a folder it does not own."""


def marker_bytes(owner: str) -> bytes:
    """The marker file's content for `owner`."""
    return f"{owner}\n".encode()


def check_replaceable(target: Path, owner: str, *, force: bool = False) -> None:
    """Raise FolderError unless `target` is missing, empty, marked by `owner`, or `force`."""
    if force or not os.path.lexists(target):
        return
    if not target.is_dir():
        raise FolderError(
            f"refusing to replace {target}: it is a file, not a folder. "
            "Choose another folder, or pass --force to replace it"
        )
    if not any(target.iterdir()):
        return
    try:
        found = (target / MARKER).read_bytes()
    except OSError:
        found = None
    if found == marker_bytes(owner):
        return
    holds = (
        "files tritonsla did not write (no " + MARKER + ")"
        if found is None
        else f"the output of `{found.decode(errors='replace').strip()}`"
    )
    raise FolderError(
        f"refusing to replace {target}: it holds {holds}, which `{owner}` would delete. "
        "Choose another folder, or pass --force to replace it"
    )


def replace_folder(
    staging: Path, target: Path, *, owner: str | None = None, force: bool = False
) -> None:
    """Move the complete `staging` folder to `target`, replacing what was there.

    With `owner`, `target` must be replaceable by it (`check_replaceable`) and the new folder
    carries its marker; without, the caller vouches for `target`. The old folder is renamed
    aside first and deleted only after the new one is in place.
    """
    if owner is not None:
        check_replaceable(target, owner, force=force)
        (staging / MARKER).write_bytes(marker_bytes(owner))
    previous = target.with_name(f".{target.name}.previous")
    if os.path.lexists(previous):
        _remove(previous)
    if os.path.lexists(target):
        os.replace(target, previous)
    os.replace(staging, target)
    if os.path.lexists(previous):
        _remove(previous)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
