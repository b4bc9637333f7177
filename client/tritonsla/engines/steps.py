"""Typed data of engine build plans: the programs, the steps, the per-profile plans.

A plan is data (argv lists, folders, environment), made by tritonsla.engines.plan and run by
tritonsla.engines.runner; nothing here touches the disk or starts a process.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonsla.engines.facts import RELEASE
from tritonsla.profiles.schema import EngineKind


@dataclass(frozen=True)
class Toolchain:
    """Where the TensorRT-LLM programs are (resolved by tritonsla.engines.tools)."""

    python: str
    examples_dir: Path
    converter: Path
    quantizer: Path
    trtllm_build: str = "trtllm-build"
    modelopt_python: str = "python3"
    """Python with torch, transformers and nvidia-modelopt (llmapi quantization)."""


@dataclass(frozen=True)
class Step:
    """One command: `program + args` run in `cwd`, writing the folder `output`.

    `tool` names the flag table in tritonsla.engines.facts that `args` must fit; `env` is laid
    over the inherited environment.
    """

    name: str
    tool: str
    program: tuple[str, ...]
    args: tuple[str, ...]
    cwd: Path
    output: Path
    env: tuple[tuple[str, str], ...] = ()

    @property
    def argv(self) -> list[str]:
        """The full command line as a list (never a shell string)."""
        return [*self.program, *self.args]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this step's variables applied."""
        return {**base, **dict(self.env)}

    def shell(self) -> str:
        """The command as one copy-pasteable shell line, for display only."""
        assignments = [f"{key}={shlex.quote(value)}" for key, value in self.env]
        command = " ".join([*assignments, shlex.join(self.argv)])
        return f"cd {shlex.quote(str(self.cwd))} && {command}"


@dataclass(frozen=True)
class Checkpoint:
    """A converted or quantized TensorRT-LLM checkpoint; profiles needing the same conversion
    share one (equal objects, one folder). `step` writes a staging folder moved to `folder`."""

    name: str
    folder: Path
    step: Step


@dataclass(frozen=True)
class EnginePlan:
    """What `tritonsla engines` does for one profile.

    trt-engine: convert (shared `checkpoint`), then `build` into a staging folder that becomes
    `folder` (engines/<profile>/) once checked. llmapi: a ModelOpt `checkpoint` for quantized
    precisions, else no step. cpu: no step. Without steps, `folder` is the model folder the
    engine loads and `note` says what to do.
    """

    profile: str
    kind: EngineKind
    folder: Path
    note: str
    knobs: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    build: Step | None = None

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every command of the plan, in order."""
        found = (self.checkpoint.step if self.checkpoint else None, self.build)
        return tuple(step for step in found if step is not None)


def script(plans: list[EnginePlan]) -> str:
    """The plans as a commented shell script: every command a build from scratch runs (for
    --dry-run; a real build skips up-to-date checkpoints and engines)."""
    trt = any(plan.kind == "trt-engine" for plan in plans)
    lines = [f"# flags checked against TensorRT-LLM {RELEASE}" if trt else "# llmapi build plan"]
    converted: set[Path] = set()
    for plan in plans:
        lines.append(f"# {plan.profile} ({plan.kind}): {plan.note}")
        checkpoint = plan.checkpoint
        if checkpoint and checkpoint.folder in converted:
            lines.append(f"#   checkpoint {checkpoint.folder} shared, converted above")
        elif checkpoint:
            converted.add(checkpoint.folder)
            lines.append(checkpoint.step.shell())
            lines.append(f"#   then move {checkpoint.step.output} -> {checkpoint.folder}")
        if plan.build:
            lines.append(plan.build.shell())
            lines.append(
                f"#   then check config.json, write the manifest, "
                f"move {plan.build.output} -> {plan.folder}"
            )
    return "\n".join(lines) + "\n"
