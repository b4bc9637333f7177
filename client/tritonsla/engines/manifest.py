"""Build manifests: what an engine or converted checkpoint was made from, to skip unchanged ones.

A manifest (build_manifest.json inside the folder) records the model fingerprint, the knobs the
engine depends on, the exact commands and the TensorRT-LLM version. A folder is up to date when
its manifest equals the one the current plan would write and its config.json exists.

The model fingerprint hashes config.json and lists each weight file's name, size and mtime; it
does not hash weight contents: reading 16 GB of safetensors on every run would take minutes, and
a changed or re-downloaded file changes its size or mtime (the quick check make and rsync use).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tritonsla.engines.folders import write_json_atomic
from tritonsla.engines.steps import Checkpoint, EnginePlan
from tritonsla.errors import EngineBuildError

MANIFEST = "build_manifest.json"
FORMAT = 1
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
BUILT_AT = "built_at"


def model_fingerprint(folder: Path) -> dict[str, Any]:
    """config.json's sha256 and the weight files' names, sizes and mtimes of a model folder."""
    if not folder.is_dir():
        raise EngineBuildError(
            f"model folder {folder} does not exist; set `model.checkpoint` of the deploy file to "
            "the Hugging Face model folder (config.json + weights)"
        )
    config = folder / "config.json"
    if not config.is_file():
        raise EngineBuildError(
            f"model folder {folder} has no config.json; `model.checkpoint` must name a Hugging "
            "Face model folder (config.json + weights)"
        )
    weights = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and (path.suffix in WEIGHT_SUFFIXES or path.name.endswith(".index.json"))
    )
    if not any(path.suffix in WEIGHT_SUFFIXES for path in weights):
        raise EngineBuildError(
            f"model folder {folder} has no weight files ({', '.join(WEIGHT_SUFFIXES)}); "
            "download the model's weights into it"
        )
    return {
        "folder": str(folder),
        "config_sha256": hashlib.sha256(config.read_bytes()).hexdigest(),
        "files": [
            {"name": p.name, "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
            for p in weights
        ],
    }


def checkpoint_manifest(checkpoint: Checkpoint, model: dict, version: str) -> dict[str, Any]:
    """The manifest a converted checkpoint made by `checkpoint.step` carries."""
    return {
        "format": FORMAT,
        "checkpoint": checkpoint.name,
        "model": model,
        "commands": [checkpoint.step.argv],
        "tensorrt_llm": version,
    }


def engine_manifest(plan: EnginePlan, model: dict, version: str) -> dict[str, Any]:
    """The manifest engines/<profile>/ carries when built by `plan`."""
    return {
        "format": FORMAT,
        "profile": plan.profile,
        "model": model,
        "knobs": plan.knobs,
        "commands": [step.argv for step in plan.steps],
        "tensorrt_llm": version,
    }


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest without its timestamp, or None when missing or unreadable."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    data.pop(BUILT_AT, None)
    return data


def is_current(folder: Path, expected: dict[str, Any]) -> bool:
    """True when `folder` is complete (config.json) and was built exactly as `expected`."""
    return (folder / "config.json").is_file() and read_manifest(folder) == expected


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest, stamped with the build time; the last file of a build."""
    stamped = {**manifest, BUILT_AT: datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(folder / MANIFEST, stamped)
