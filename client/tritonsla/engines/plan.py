"""Engine build plans per SLA profile (pure): deployment + toolchain -> list[EnginePlan].

trt-engine: checkpoint conversion (convert_checkpoint.py of the model's architecture: dtype, tp/pp,
int8/int4 weight-only) or quantization (quantize.py for fp8), shared between profiles that need
the same one, then `trtllm-build` with every flag the profile implies, into a staging folder
next to engines/<profile>/. Tensor and pipeline parallelism are fixed at conversion; trtllm-build
has no tp/pp flags (tensorrt_llm/commands/build.py). Every planned argv is checked against
tritonsla.engines.facts before it is returned.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tritonsla.engines.facts import CONVERTER_DIRS, validate_argv
from tritonsla.engines.llmapi_plan import llmapi_plan
from tritonsla.engines.steps import Checkpoint, EnginePlan, Step, Toolchain
from tritonsla.errors import EngineBuildError
from tritonsla.llmapi.quantization import CHECKPOINTS
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
"""Unquantized precisions -> convert_checkpoint.py --dtype."""

WEIGHT_ONLY = ("int8", "int4")
"""Precisions built as weight-only quantization (--use_weight_only --weight_only_precision)."""

QUANTIZED_DTYPE = "float16"
"""Activation dtype of weight-only and fp8 engines: fp16, as the unquantized profiles run."""

MULTIPLE_PROFILES_MIN_BATCH = 16
"""--multiple_profiles enable from this engine batch up. TensorRT-LLM's tuning guide: more
optimization profiles give TensorRT better kernels across the many token counts a large in-flight
batch produces, at the cost of build time and possibly slightly different outputs between runs.
A small realtime batch gains little, so it keeps one profile (faster build, repeatable output)."""

STEP_ENV = (("PYTHONUNBUFFERED", "1"),)
"""Every tool is a Python program: unbuffered output reaches the log file as it is written."""


def engines_dir(dep: Deployment) -> Path:
    """engines_dir of the deployment, resolved against the deploy file."""
    return dep.path(dep.deploy.engines_dir)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def paged_context_fmha(profile: Profile) -> bool:
    """Paged context FMHA: asked for, or needed by chunked context or KV cache reuse."""
    e = profile.engine
    return e.paged_context_fmha or e.enable_chunked_context or e.kv_cache.enable_reuse


def engine_knobs(dep: Deployment, profile: Profile) -> dict[str, Any]:
    """Every deployment and profile value the compiled engine depends on (for the manifest)."""
    e = profile.engine
    hw = dep.deploy.hardware
    return {
        "architecture": dep.deploy.model.architecture,
        "precision": e.precision,
        "tensor_parallel": hw.tensor_parallel,
        "pipeline_parallel": hw.pipeline_parallel,
        "max_batch_size": profile.batching.max_batch_size,
        "max_input_len": e.max_input_len,
        "max_seq_len": e.max_seq_len,
        "max_num_tokens": e.max_num_tokens,
        "max_beam_width": e.max_beam_width,
        "tokens_per_block": e.kv_cache.tokens_per_block,
        "paged_context_fmha": paged_context_fmha(profile),
        "multiple_profiles": profile.batching.max_batch_size >= MULTIPLE_PROFILES_MIN_BATCH,
    }


def _checkpoint(dep: Deployment, profile: Profile, tools: Toolchain) -> Checkpoint:
    hw = dep.deploy.hardware
    arch = dep.deploy.model.architecture
    model = dep.path(dep.deploy.model.checkpoint)
    precision = profile.engine.precision
    tool, script = f"convert_checkpoint.py:{CONVERTER_DIRS[arch]}", tools.converter
    dtype = DTYPES.get(precision, QUANTIZED_DTYPE)
    stem, extra = dtype, ()
    if precision == "fp8":
        tool, script = "quantize.py", tools.quantizer
        stem, extra = f"fp8-{dtype}", ("--qformat", "fp8", "--kv_cache_dtype", "fp8")
    elif precision in WEIGHT_ONLY:
        stem = f"{precision}wo-{dtype}"
        extra = ("--use_weight_only", "--weight_only_precision", precision)
    name = f"{stem}-tp{hw.tensor_parallel}-pp{hw.pipeline_parallel}"
    folder = engines_dir(dep) / CHECKPOINTS / name
    staging = folder.with_name(f".{name}.building-{_digest(str(model), arch, name)}")
    args = (
        "--model_dir",
        str(model),
        "--output_dir",
        str(staging),
        "--dtype",
        dtype,
        "--tp_size",
        str(hw.tensor_parallel),
        "--pp_size",
        str(hw.pipeline_parallel),
        *extra,
    )
    step = Step(
        name="quantize" if tool == "quantize.py" else "convert",
        tool=tool,
        program=(tools.python, str(script)),
        args=args,
        cwd=script.parent,
        output=staging,
        env=STEP_ENV,
    )
    return Checkpoint(name=name, folder=folder, step=step)


def _switch(on: bool) -> str:
    return "enable" if on else "disable"


def _build(
    dep: Deployment, name: str, knobs: dict[str, Any], checkpoint: Checkpoint, tools: Toolchain
) -> Step:
    hw = dep.deploy.hardware
    world = hw.tensor_parallel * hw.pipeline_parallel
    staging = engines_dir(dep) / f".{name}.building-{_digest(knobs, checkpoint.name)}"
    args = (
        "--checkpoint_dir",
        str(checkpoint.folder),
        "--output_dir",
        str(staging),
        "--max_batch_size",
        str(knobs["max_batch_size"]),
        "--max_input_len",
        str(knobs["max_input_len"]),
        "--max_seq_len",
        str(knobs["max_seq_len"]),
        "--max_num_tokens",
        str(knobs["max_num_tokens"]),
        "--max_beam_width",
        str(knobs["max_beam_width"]),
        "--kv_cache_type",
        "paged",
        "--tokens_per_block",
        str(knobs["tokens_per_block"]),
        "--gpt_attention_plugin",
        "auto",
        "--gemm_plugin",
        "fp8" if knobs["precision"] == "fp8" else "auto",
        "--context_fmha",
        "enable",
        "--remove_input_padding",
        "enable",
        "--use_paged_context_fmha",
        _switch(knobs["paged_context_fmha"]),
        "--multiple_profiles",
        _switch(knobs["multiple_profiles"]),
        "--workers",
        str(min(world, max(1, hw.gpus))),
    )
    return Step(
        name="build",
        tool="trtllm-build",
        program=(tools.trtllm_build,),
        args=args,
        cwd=engines_dir(dep),
        output=staging,
        env=STEP_ENV,
    )


def _plan(dep: Deployment, name: str, tools: Toolchain) -> EnginePlan:
    profile = dep.profiles[name]
    kind = dep.deploy.engine_kind
    model = dep.path(dep.deploy.model.checkpoint)
    if kind == "cpu":
        note = f"no compile step: the cpu engine loads the GPT-2 checkpoint {model} directly"
        return EnginePlan(name, kind, model, note)
    if kind == "llmapi":
        return llmapi_plan(dep, name, tools)
    knobs = engine_knobs(dep, profile)
    checkpoint = _checkpoint(dep, profile, tools)
    build = _build(dep, name, knobs, checkpoint, tools)
    for step in (checkpoint.step, build):
        validate_argv(step.tool, step.args)
    folder = engines_dir(dep) / name
    note = f"{profile.engine.precision} engine from checkpoint {checkpoint.name} into {folder}"
    return EnginePlan(name, kind, folder, note, knobs, checkpoint, build)


def plan_engines(
    dep: Deployment, tools: Toolchain, profiles: list[str] | None = None
) -> list[EnginePlan]:
    """One plan per profile (all, or the `profiles` subset), in the deploy file's order."""
    unknown = [name for name in profiles or [] if name not in dep.profiles]
    if unknown:
        raise EngineBuildError(
            f"unknown profile(s) {', '.join(unknown)}. Available: {', '.join(dep.profiles)}"
        )
    chosen = [name for name in dep.profiles if not profiles or name in profiles]
    return [_plan(dep, name, tools) for name in chosen]
