"""Template context of one SLA endpoint, computed from the deployment (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonsla import contract
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.rules import cpu_kv_tokens
from tritonsla.profiles.schema import Profile

CPU_PRECISION = {"fp32": "fp32", "fp16": "fp32", "bf16": "fp32", "int8": "int8"}
"""The cpu engine computes in numpy: half precisions run in fp32, int8 is weight-only int8."""

HEADER = "Rendered by `tritonsla render` from {source}; edit the profile, not this file."


@dataclass(frozen=True)
class Contract:
    """The contract tables in the shape templates use."""

    preprocessing_inputs: tuple[contract.TensorSpec, ...] = contract.PREPROCESSING_INPUTS
    preprocessing_outputs: tuple[contract.TensorSpec, ...] = contract.PREPROCESSING_OUTPUTS
    tensorrt_llm_inputs: tuple[contract.TensorSpec, ...] = contract.TENSORRT_LLM_INPUTS
    tensorrt_llm_outputs: tuple[contract.TensorSpec, ...] = contract.TENSORRT_LLM_OUTPUTS
    postprocessing_inputs: tuple[contract.TensorSpec, ...] = contract.POSTPROCESSING_INPUTS
    postprocessing_outputs: tuple[contract.TensorSpec, ...] = contract.POSTPROCESSING_OUTPUTS
    ensemble_inputs: tuple[contract.TensorSpec, ...] = contract.ENSEMBLE_INPUTS
    ensemble_outputs: tuple[contract.TensorSpec, ...] = contract.ENSEMBLE_OUTPUTS
    steps: tuple[contract.EnsembleStep, ...] = contract.ENSEMBLE_STEPS


def portable_path(path: Path, repo_parent: Path) -> str:
    """`path` relative to the folder holding the repository when it lies below it, else absolute.

    Python models resolve relative values with tritonsla.paths.resolve_model_path, so a
    committed repository stays identical on every machine.
    """
    if path.is_relative_to(repo_parent):
        return Path(os.path.relpath(path, repo_parent)).as_posix()
    return path.as_posix()


def model_paths(dep: Deployment, profile: Profile, repo_parent: Path) -> dict[str, str]:
    """Tokenizer, checkpoint and engine folders as rendered into the configs.

    Absolute paths are kept as written (on GPU machines they often name a container's file
    system); relative ones resolve against the deploy file and are made portable.
    """
    d = dep.deploy

    def rendered(value: str) -> str:
        if Path(value).is_absolute():
            return Path(value).as_posix()
        return portable_path(dep.path(value), repo_parent)

    return {
        "tokenizer": rendered(d.model.tokenizer),
        "checkpoint": rendered(d.model.checkpoint),
        "engine": rendered((Path(d.engines_dir) / profile.name).as_posix()),
    }


def endpoint_context(dep: Deployment, name: str, repo_parent: Path, source: str) -> dict[str, Any]:
    """Everything the templates of `name`'s endpoint read; StrictUndefined catches the rest."""
    profile = dep.profiles[name]
    return {
        "header": HEADER.format(source=source),
        "profile": profile,
        "deploy": dep.deploy,
        "engine_kind": dep.deploy.engine_kind,
        "names": {role: contract.model_name(name, role) for role in contract.MODEL_ROLES},
        "contract": Contract(),
        "paths": model_paths(dep, profile, repo_parent),
        "kv_tokens": cpu_kv_tokens(dep, profile),
        "cpu_precision": CPU_PRECISION.get(profile.engine.precision, "fp32"),
    }
