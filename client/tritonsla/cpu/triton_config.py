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

Priority (shared topology): parameter `waiting_queue_policy` (fcfs | priority, TensorRT-LLM LLM
API's `scheduler_config.waiting_queue_policy`), `dynamic_batching.priority_levels`,
`dynamic_batching.default_priority_level`, and `dynamic_batching.priority_queue_policy` (JSON:
level number as a string -> a queue policy; its `max_queue_size` bounds that level, 0 or absent
= unbounded). Triton hands every request of a decoupled Python model over at once, so these
bounds are enforced in the engine's waiting queue; Triton's timeout fields
(`timeout_action`, `default_timeout_microseconds`, `allow_timeout_override`) are accepted and
not applied by the engine. Protobuf's JSON writes 64-bit numbers as strings; both forms parse.
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
_TEXT_PARAMETERS = ("precision", "batch_scheduler_policy", "waiting_queue_policy")
_INFLIGHT = ("inflight_fused_batching", "inflight_batching")
_CONFIG_FIELDS = {
    "max_queue_size": "dynamic_batching.default_queue_policy.max_queue_size",
    "priority_levels": "dynamic_batching.priority_levels",
    "default_priority_level": "dynamic_batching.default_priority_level",
    "max_queue_size_by_level": "dynamic_batching.priority_queue_policy",
}
"""EngineConfig fields set from the config outside `parameters`, by their config.pbtxt name."""


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
    options: dict[str, Any] = {
        "checkpoint_dir": resolve_model_path(path, model_dir),
        "max_batch_size": batch,
        **queue_options(model_config),
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
        engine=_engine_config(options),
        exclude_input_in_output=exclude is not None
        and _to_bool("exclude_input_in_output", exclude),
    )


def queue_options(model_config: dict[str, Any]) -> dict[str, Any]:
    """EngineConfig queue fields from `dynamic_batching`: sizes, priority levels, level bounds."""
    batching = model_config.get("dynamic_batching", {})
    default_policy = batching.get("default_queue_policy", {})
    return {
        "max_queue_size": _config_int(
            _CONFIG_FIELDS["max_queue_size"], default_policy.get("max_queue_size", 0)
        ),
        "priority_levels": _config_int(
            _CONFIG_FIELDS["priority_levels"], batching.get("priority_levels", 0)
        ),
        "default_priority_level": _config_int(
            _CONFIG_FIELDS["default_priority_level"], batching.get("default_priority_level", 0)
        ),
        "max_queue_size_by_level": _level_bounds(batching.get("priority_queue_policy", {})),
    }


def _level_bounds(policies: Any) -> dict[int, int]:
    field = _CONFIG_FIELDS["max_queue_size_by_level"]
    if not isinstance(policies, dict):
        raise EngineConfigError(field, f"{policies!r} is not a map", "write level -> queue policy")
    bounds = {}
    for key, policy in policies.items():
        if not isinstance(policy, dict):
            raise EngineConfigError(
                f"{field}[{key}]", f"{policy!r} is not a queue policy", "write { max_queue_size }"
            )
        level = _config_int(f"{field} key", key)
        bounds[level] = _config_int(
            f"{field}[{key}].max_queue_size", policy.get("max_queue_size", 0)
        )
    return bounds


def _engine_config(options: dict[str, Any]) -> EngineConfig:
    """Build the EngineConfig; errors name the config.pbtxt field rather than the engine's."""
    try:
        return EngineConfig(**options)
    except EngineConfigError as error:
        if error.field not in _CONFIG_FIELDS:
            raise
        raise EngineConfigError(_CONFIG_FIELDS[error.field], error.problem, error.fix) from None


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


def _config_int(field: str, value: Any) -> int:
    """A whole number of the model config: JSON numbers, or strings (protobuf's 64-bit form)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise EngineConfigError(field, f"{value!r} is not an integer", "write a whole number")


def _to_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise EngineConfigError(key, f"{value!r} is not a boolean", "write true or false")
    return lowered in ("true", "1")
