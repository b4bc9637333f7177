"""Template context of one SLA endpoint, computed from the deployment (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tritonsla import contract
from tritonsla.llmapi.arguments import model_yaml_context
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile
from tritonsla.profiles.topology import (
    EngineModel,
    cpu_kv_tokens,
    engine_model_of,
    engine_models,
    engine_priority_level,
)

CPU_PRECISION = {"fp32": "fp32", "fp16": "fp32", "bf16": "fp32", "int8": "int8"}
"""The cpu engine computes in numpy: half precisions run in fp32, int8 is weight-only int8."""

STREAM_KEY_KINDS = frozenset({"cpu", "llmapi"})
"""Engine kinds whose model is our Python model, which carries the stream key (see contract)."""

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


def contract_of(engine_kind: str) -> Contract:
    """The tables for `engine_kind`: our Python engines add the stream-key tensors."""
    if engine_kind not in STREAM_KEY_KINDS:
        return Contract()
    return Contract(
        tensorrt_llm_inputs=contract.TENSORRT_LLM_INPUTS + contract.STREAM_KEY_ENGINE_INPUTS,
        tensorrt_llm_outputs=contract.TENSORRT_LLM_OUTPUTS + contract.STREAM_KEY_ENGINE_OUTPUTS,
        steps=contract.ensemble_steps(stream_keys=True),
    )


def portable_path(path: Path, repo_parent: Path) -> str:
    """`path` relative to the folder holding the repository when it lies below it, else absolute.

    Python models resolve relative values with tritonsla.paths.resolve_model_path, so a
    committed repository stays identical on every machine.
    """
    if path.is_relative_to(repo_parent):
        return Path(os.path.relpath(path, repo_parent)).as_posix()
    return path.as_posix()


def rendered_path(dep: Deployment, repo_parent: Path, value: str) -> str:
    """A deploy-file path as configs store it: absolute as written, relative made portable."""
    if Path(value).is_absolute():
        return Path(value).as_posix()
    return portable_path(dep.path(value), repo_parent)


def model_paths(dep: Deployment, profile: Profile, repo_parent: Path) -> dict[str, str]:
    """Tokenizer, checkpoint and engine folders as rendered into the configs.

    Absolute paths are kept as written (on GPU machines they often name a container's file
    system); relative ones resolve against the deploy file and are made portable.
    """
    d = dep.deploy
    rendered = partial(rendered_path, dep, repo_parent)
    return {
        "tokenizer": rendered(d.model.tokenizer),
        "checkpoint": rendered(d.model.checkpoint),
        "engine": rendered((Path(d.engines_dir) / profile.name).as_posix()),
    }


def _common(dep: Deployment, profile: Profile, repo_parent: Path, source: str) -> dict[str, Any]:
    return {
        "header": HEADER.format(source=source),
        "profile": profile,
        "deploy": dep.deploy,
        "engine_kind": dep.deploy.engine_kind,
        "contract": contract_of(dep.deploy.engine_kind),
        "paths": model_paths(dep, profile, repo_parent),
    }


def endpoint_context(dep: Deployment, name: str, repo_parent: Path, source: str) -> dict[str, Any]:
    """What the templates of `name`'s client-facing models read (all but the engine)."""
    names = {role: contract.model_name(name, role) for role in contract.MODEL_ROLES}
    names["tensorrt_llm"] = engine_model_of(dep, name)
    profile = dep.profiles[name]
    engine_batch = next(
        e.profile.batching.max_batch_size for e in engine_models(dep) if name in e.classes
    )
    return _common(dep, profile, repo_parent, source) | {
        "names": names,
        "engine_priority_level": engine_priority_level(dep, name),
        # Triton: an ensemble batches no more than each model it composes
        "ensemble_max_batch_size": min(profile.batching.max_batch_size, engine_batch),
    }


def engine_context(
    dep: Deployment, engine: EngineModel, repo_parent: Path, source: str
) -> dict[str, Any]:
    """What the template of one engine model reads; StrictUndefined catches the rest."""
    profile = engine.profile
    return (
        _common(dep, profile, repo_parent, source)
        | {
            "names": {"tensorrt_llm": engine.model},
            "engine_classes": engine.classes,
            "level_queues": engine.level_queues,
            "kv_tokens": cpu_kv_tokens(dep, profile),
            "cpu_precision": CPU_PRECISION.get(profile.engine.precision, "fp32"),
        }
        | model_yaml_context(dep, profile, partial(rendered_path, dep, repo_parent))
    )
