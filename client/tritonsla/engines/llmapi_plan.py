"""Build plans of engine kind llmapi (pure): what the LLM API path can prebuild per profile.

The PyTorch backend compiles nothing ahead of time; what it can be given prebuilt is a
quantized checkpoint. A profile whose precision is fp8, int8 or int4 gets one ModelOpt run
(tritonsla/engines/modelopt_quantize.py: FP8 with FP8 KV cache, INT8 SmoothQuant, INT4 AWQ)
into `<engines_dir>/_checkpoints/hf-<format>/`, shared by every profile of that precision and
staged, manifest-tracked and installed like the trt-engine checkpoints. Other precisions load
the model folder as it is. Calibration runs where the build runs: on the GPU when there is one,
else on the CPU in float32 (slow for large models, fine for small ones).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from tritonsla.contract import model_name
from tritonsla.engines import modelopt_quantize
from tritonsla.engines.steps import Checkpoint, EnginePlan, Step, Toolchain
from tritonsla.errors import EngineBuildError
from tritonsla.llmapi.quantization import (
    KV_CACHE_FORMATS,
    QUANT_TOOL,
    checkpoint_folder,
    checkpoint_name,
    quant_format,
)
from tritonsla.profiles.loading import Deployment

STEP_ENV = (("PYTHONUNBUFFERED", "1"),)


def quantized_folder(dep: Deployment, qformat: str) -> Path:
    """Where the `qformat` checkpoint of `dep` is installed."""
    return dep.path(checkpoint_folder(dep, qformat).as_posix())


def check_quantize_args(args: tuple[str, ...]) -> None:
    """Parse `args` with modelopt_quantize.py's own parser; EngineBuildError if it refuses."""
    parser = modelopt_quantize.build_parser()
    parser.exit_on_error = False
    try:
        parser.parse_args(list(args))
    except (argparse.ArgumentError, SystemExit) as error:
        raise EngineBuildError(
            f"planned {QUANT_TOOL} command is refused by its parser: {error}"
        ) from error


def _quantize_step(dep: Deployment, qformat: str, precision: str, tools: Toolchain) -> Checkpoint:
    model = dep.path(dep.deploy.model.checkpoint)
    name = checkpoint_name(qformat)
    folder = quantized_folder(dep, qformat)
    key = hashlib.sha256(json.dumps([str(model), name]).encode()).hexdigest()[:8]
    staging = folder.with_name(f".{name}.building-{key}")
    args = (
        "--model_dir",
        str(model),
        "--output_dir",
        str(staging),
        "--qformat",
        qformat,
        "--kv_cache_qformat",
        KV_CACHE_FORMATS.get(precision, "none"),
        "--dtype",
        "auto",
        "--device",
        "auto",
    )
    check_quantize_args(args)
    step = Step(
        name="quantize",
        tool=QUANT_TOOL,
        program=(tools.modelopt_python, str(Path(modelopt_quantize.__file__))),
        args=args,
        cwd=folder.parent.parent,
        output=staging,
        env=STEP_ENV,
    )
    return Checkpoint(name=name, folder=folder, step=step)


def llmapi_plan(dep: Deployment, name: str, tools: Toolchain) -> EnginePlan:
    """The plan of llmapi profile `name`: a ModelOpt quantization, or nothing to build."""
    profile = dep.profiles[name]
    precision = profile.engine.precision
    model = dep.path(dep.deploy.model.checkpoint)
    yaml_file = f"{model_name(name, 'tensorrt_llm')}/1/model.yaml"
    qformat = quant_format(precision)
    if qformat is None:
        note = (
            f"no compile step: TensorRT-LLM's PyTorch backend loads {model} when the server "
            f"starts, with the LLM() arguments rendered into {yaml_file} (tritonsla render, or "
            "--out-repo)"
        )
        return EnginePlan(name, "llmapi", model, note)
    checkpoint = _quantize_step(dep, qformat, precision, tools)
    note = (
        f"{precision}: ModelOpt {qformat} checkpoint {checkpoint.folder}, loaded by the PyTorch "
        f"backend with the LLM() arguments in {yaml_file}"
    )
    knobs = {"precision": precision, "qformat": qformat}
    return EnginePlan(name, "llmapi", checkpoint.folder, note, knobs, checkpoint)
