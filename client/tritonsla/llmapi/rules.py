"""Cross-field rules of the llmapi-only knobs (speculative decoding, attention backend).

Pure: Deployment in, ConfigErrors out, each located in the file that set the value.
"""

from __future__ import annotations

from collections.abc import Iterator

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Engine

DEFAULT_ATTENTION_BACKEND = Engine.model_fields["attention_backend"].default


def _error(dep: Deployment, profile: str, field: str, problem: str, fix: str) -> ConfigError:
    file, path = dep.locate(profile, field)
    return ConfigError(file, path, problem, fix)


def llmapi_rules(dep: Deployment) -> Iterator[ConfigError]:
    """Speculative decoding and the attention backend exist only on the llmapi path;
    speculative decoding needs beam width 1 (the LLM API drafts one sequence per request)."""
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
