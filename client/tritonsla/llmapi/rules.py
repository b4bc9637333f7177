"""Cross-field rules of the llmapi-only knobs (speculative decoding, attention backend), and of
FP8 on GPUs that lack it.

Pure: Deployment in, ConfigErrors out, each located in the file that set the value.
"""

from __future__ import annotations

from collections.abc import Iterator

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Engine

DEFAULT_ATTENTION_BACKEND = Engine.model_fields["attention_backend"].default
NO_FP8_GPUS = ("V100", "T4", "A100", "A10", "A30", "A40", "A16", "A2")
"""GPU names (hardware.gpu_type prefixes) without FP8 tensor cores: FP8 needs Ada (SM89),
Hopper (SM90) or later; these are Volta, Turing and Ampere parts."""


def _error(dep: Deployment, profile: str, field: str, problem: str, fix: str) -> ConfigError:
    file, path = dep.locate(profile, field)
    return ConfigError(file, path, problem, fix)


def llmapi_rules(dep: Deployment) -> Iterator[ConfigError]:
    """Speculative decoding and the attention backend exist only on the llmapi path;
    speculative decoding needs beam width 1 (the LLM API drafts one sequence per request);
    fp8 needs a GPU with FP8 (fp8_rules)."""
    yield from fp8_rules(dep)
    kind = dep.deploy.engine_kind
    for name, profile in dep.profiles.items():
        e = profile.engine
        if e.speculative.method != "none" and kind != "llmapi":
            yield _error(
                dep,
                name,
                "engine.speculative.method",
                f"speculative decoding ({e.speculative.method}) is rendered only for engine "
                f"kind llmapi, not {kind}",
                "set engine_kind: llmapi in the deploy file, or method: none",
            )
        if e.speculative.method != "none" and e.max_beam_width != 1:
            yield _error(
                dep,
                name,
                "engine.max_beam_width",
                f"{e.max_beam_width} with speculative decoding; the LLM API speculates only "
                "for beam width 1",
                "set engine.max_beam_width: 1 or engine.speculative.method: none",
            )
        if e.attention_backend != DEFAULT_ATTENTION_BACKEND and kind != "llmapi":
            yield _error(
                dep,
                name,
                "engine.attention_backend",
                f"{e.attention_backend} is an LLM API choice; engine kind {kind} has none",
                f"set engine_kind: llmapi, or attention_backend: {DEFAULT_ATTENTION_BACKEND}",
            )


def fp8_rules(dep: Deployment) -> Iterator[ConfigError]:
    """FP8 precision on a GPU named in hardware.gpu_type that has no FP8 support."""
    gpu = (dep.deploy.hardware.gpu_type or "").upper()
    if dep.deploy.engine_kind == "cpu" or not gpu.startswith(NO_FP8_GPUS):
        return
    for name, profile in dep.profiles.items():
        if profile.engine.precision == "fp8":
            yield _error(
                dep,
                name,
                "engine.precision",
                f"fp8 needs an Ada, Hopper or later GPU; hardware.gpu_type is "
                f"{dep.deploy.hardware.gpu_type}",
                "use int8 or fp16 on this GPU, or set hardware.gpu_type to the GPU you serve on",
            )
