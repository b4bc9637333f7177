"""The exception tree of triton-sla.

TritonSlaError                 root; every expected failure derives from it
├── ConfigError                a deploy/profile file is wrong: names file, field path and fix
├── ConfigErrors               several ConfigErrors found in one pass, reported together
├── RenderError                templates or rendered configs are wrong
├── EngineBuildError           an engine build step failed or tools are missing
├── ServerError                tritonserver could not start, stop or be reached
└── ModelDataError             a checkpoint or tokenizer folder is missing or malformed
"""

from __future__ import annotations


class TritonSlaError(Exception):
    """Root of every error triton-sla raises on purpose."""


class ConfigError(TritonSlaError):
    """A configuration value is wrong; the message names the file, the field and the fix."""

    def __init__(self, file: str, field: str, problem: str, fix: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{file}: `{field}`: {problem}. Fix: {fix}")


class ConfigErrors(TritonSlaError):
    """Every problem found in one validation pass, so users fix them all at once."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        lines = "\n".join(f"- {error}" for error in errors)
        super().__init__(f"{len(errors)} configuration error(s):\n{lines}")


class RenderError(TritonSlaError):
    """Rendering the model repository failed."""


class EngineBuildError(TritonSlaError):
    """An engine build plan could not be made or a build step failed."""


class ServerError(TritonSlaError):
    """tritonserver could not be started, stopped or reached."""


class ModelDataError(TritonSlaError):
    """A checkpoint or tokenizer folder is missing or malformed."""
