"""The CPU `tensorrt_llm` model's settings, read from its Triton model config (JSON form).

Parameter keys (`parameters { key: ... value: { string_value: ... } }`) are TensorRT-LLM's where
it has one: `gpt_model_type` (only in-flight batching: `inflight_fused_batching` or
`inflight_batching`), `gpt_model_path` (checkpoint folder; absolute, or relative to the folder
containing the model repository), `batch_scheduler_policy`, `max_tokens_in_paged_kv_cache`,
`max_num_tokens`, `enable_chunked_context`, `exclude_input_in_output`, `max_input_len`,
`max_seq_len`, `tokens_per_block`; plus `precision` (fp32 | int8). The in-flight batch size is
the config's `max_batch_size`, the queue bound `dynamic_batching.default_queue_policy.
max_queue_size` (0 = unbounded), as TensorRT-LLM's backend reads them. Missing or empty
parameters take the engine defaults; an unfilled template value (`${...}`) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.errors import EngineConfigError
from tritonsla.paths import model_config_parameter, resolve_model_path

_INT_PARAMETERS = (
    "max_tokens_in_paged_kv_cache",
    "max_num_tokens",
    "max_input_len",
    "max_seq_len",
    "tokens_per_block",
)
_TEXT_PARAMETERS = ("precision", "batch_scheduler_policy")
_INFLIGHT = ("inflight_fused_batching", "inflight_batching")


@dataclass(frozen=True)
class ModelSettings:
    """Everything the Triton adapter needs: the engine's config and per-request defaults."""

    engine: EngineConfig
    exclude_input_in_output: bool


def settings_from_model_config(
    model_config: dict[str, Any], model_dir: str | Path
) -> ModelSettings:
    """Read the engine settings of the model in `model_dir` (`<repository>/<model name>`)."""
    decoupled = model_config.get("model_transaction_policy", {}).get("decoupled", False)
    if decoupled is not True:
        raise EngineConfigError(
            "model_transaction_policy.decoupled",
            "the CPU tensorrt_llm model streams responses and must be decoupled",
            "set `model_transaction_policy { decoupled: true }` in config.pbtxt",
        )
    batching = _parameter(model_config, "gpt_model_type")
    if batching not in (None, *_INFLIGHT):
        raise EngineConfigError(
            "gpt_model_type",
            f"{batching!r} is not supported by the CPU engine",
            f"use one of {_INFLIGHT}",
        )
    path = _parameter(model_config, "gpt_model_path")
    if path is None:
        raise EngineConfigError(
            "gpt_model_path", "is not set", "set it to the GPT-2 checkpoint folder"
        )
    batch = int(model_config.get("max_batch_size", 0))
    if batch < 1:
        raise EngineConfigError(
            "max_batch_size", f"{batch} disables batching", "set it to the in-flight batch, >= 1"
        )
    queue_policy = model_config.get("dynamic_batching", {}).get("default_queue_policy", {})
    options: dict[str, Any] = {
        "checkpoint_dir": resolve_model_path(path, model_dir),
        "max_batch_size": batch,
        "max_queue_size": int(queue_policy.get("max_queue_size", 0)),
    }
    for key in _TEXT_PARAMETERS:
        if (value := _parameter(model_config, key)) is not None:
            options[key] = value
    for key in _INT_PARAMETERS:
        if (value := _parameter(model_config, key)) is not None:
            options[key] = _to_int(key, value)
    if (value := _parameter(model_config, "enable_chunked_context")) is not None:
        options["enable_chunked_context"] = _to_bool("enable_chunked_context", value)
    exclude = _parameter(model_config, "exclude_input_in_output")
    return ModelSettings(
        engine=EngineConfig(**options),
        exclude_input_in_output=exclude is not None
        and _to_bool("exclude_input_in_output", exclude),
    )


def _parameter(model_config: dict[str, Any], key: str) -> str | None:
    value = model_config_parameter(model_config, key, "").strip()
    if value.startswith("${"):
        raise EngineConfigError(
            key, f"holds the unfilled template value {value!r}", "render the model repository"
        )
    return value or None


def _to_int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise EngineConfigError(
            key, f"{value!r} is not an integer", "write a whole number"
        ) from None


def _to_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise EngineConfigError(key, f"{value!r} is not a boolean", "write true or false")
    return lowered in ("true", "1")
