"""Cross-check a compiled TensorRT-LLM engine's config.json against its profile.

Catches known pitfalls before tritonserver does: config batch larger than the engine's,
prompts or sequences longer than the engine allows, world size != tp x pp, and KV reuse or
chunked context on an engine built without paged context FMHA. Keys follow the config.json
that trtllm-build writes (`pretrained_config.mapping`, `build_config` and its `plugin_config`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment, display_path


def _get(data: dict[str, Any], *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def check_engine_config(dep: Deployment, name: str, config_file: Path) -> list[ConfigError]:
    """Problems between profile `name` and the engine described by `config_file`."""
    shown = str(config_file)
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        return [
            ConfigError(
                shown,
                "(file)",
                f"unreadable engine config: {error}",
                "rebuild the engine with ./build.sh engines",
            )
        ]
    profile = dep.profiles[name]
    e = profile.engine
    found: list[ConfigError] = []

    def at_least(key: str, wanted: int, knob: str) -> None:
        built = _get(data, "build_config", key)
        if isinstance(built, int) and built < wanted:
            file, field = dep.locate(name, knob)
            found.append(
                ConfigError(
                    file,
                    field,
                    f"{wanted} exceeds the engine's build_config.{key} = {built} ({shown})",
                    f"lower {knob} to {built} or rebuild the engine (./build.sh engines)",
                )
            )

    at_least("max_batch_size", profile.batching.max_batch_size, "batching.max_batch_size")
    at_least("max_input_len", e.max_input_len, "engine.max_input_len")
    at_least("max_seq_len", e.max_seq_len, "engine.max_seq_len")
    at_least("max_num_tokens", e.max_num_tokens, "engine.max_num_tokens")
    at_least("max_beam_width", e.max_beam_width, "engine.max_beam_width")

    hw = dep.deploy.hardware
    mapping = _get(data, "pretrained_config", "mapping") or {}
    tp, pp = mapping.get("tp_size", 1), mapping.get("pp_size", 1)
    world = mapping.get("world_size", tp * pp)
    if (tp, pp) != (hw.tensor_parallel, hw.pipeline_parallel) or world != tp * pp:
        found.append(
            ConfigError(
                display_path(dep.deploy_file),
                "hardware.tensor_parallel",
                f"deploy says tp={hw.tensor_parallel} pp={hw.pipeline_parallel} but the engine was "
                f"built with tp={tp} pp={pp} world_size={world} ({shown})",
                "make the deploy match the engine or rebuild the engine",
            )
        )
    paged_fmha = _get(data, "build_config", "plugin_config", "use_paged_context_fmha")
    for knob, on in (
        ("engine.enable_chunked_context", e.enable_chunked_context),
        ("engine.kv_cache.enable_reuse", e.kv_cache.enable_reuse),
    ):
        if on and paged_fmha is False:
            file, field = dep.locate(name, knob)
            found.append(
                ConfigError(
                    file,
                    field,
                    f"is on but the engine was built without paged context FMHA ({shown})",
                    "rebuild with --use_paged_context_fmha enable or turn the knob off",
                )
            )
    return found


def check_engines(dep: Deployment) -> list[ConfigError]:
    """Check every profile's engine folder that exists (trt-engine deployments only)."""
    if dep.deploy.engine_kind != "trt-engine":
        return []
    found: list[ConfigError] = []
    for name in dep.profiles:
        config_file = dep.path(dep.deploy.engines_dir) / name / "config.json"
        if config_file.is_file():
            found.extend(check_engine_config(dep, name, config_file))
    return found
