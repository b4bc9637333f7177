"""Find the TensorRT-LLM programs a build needs, and say clearly what is missing.

- `trtllm-build` on PATH (installed with the tensorrt-llm wheel);
- a Python that imports `tensorrt_llm` (TRTLLM_PYTHON, else the one running tritonsla), which also
  runs the convert and quantize scripts and answers the version query;
- the examples folder of the TensorRT-LLM source tree at the installed tag (--examples-dir or
  TRTLLM_EXAMPLES_DIR): the wheel does not ship convert_checkpoint.py or quantize.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tritonsla.engines.facts import (
    CONVERTER_DIRS,
    CONVERTER_LOCATIONS,
    RELEASE,
    RELEASE_LINE,
)
from tritonsla.engines.steps import EnginePlan, Toolchain
from tritonsla.errors import EngineBuildError
from tritonsla.llmapi.quantization import QUANT_TOOL
from tritonsla.profiles.loading import Deployment

EXAMPLES_ENV = "TRTLLM_EXAMPLES_DIR"
PYTHON_ENV = "TRTLLM_PYTHON"
MODELOPT_PYTHON_ENV = "MODELOPT_PYTHON"
QUANT_VENV_PYTHON = Path(__file__).resolve().parents[3] / ".cache" / "quant-venv" / "bin" / "python"
"""The quantization tools venv that `./build.sh quant-tools` makes in the checkout."""
MODELOPT_CODE = (
    "import torch, transformers, modelopt, modelopt.torch.quantization; print(modelopt.__version__)"
)
EXAMPLES_PLACEHOLDER = Path(f"<{EXAMPLES_ENV}>")
VERSION_CODE = "import tensorrt_llm; print(tensorrt_llm.__version__)"
VERSION_TIMEOUT_S = 300.0
"""Importing tensorrt_llm loads CUDA libraries; a cold first import can take minutes."""

HOW_TO_GET = (
    f"Get them: `pip install 'triton-sla[gpu]'` (pins tensorrt-llm=={RELEASE}) on a machine with "
    "an NVIDIA GPU, or run inside the NGC TensorRT-LLM Triton container "
    "(nvcr.io/nvidia/tritonserver:<yy.mm>-trtllm-python-py3, a release that ships TensorRT-LLM "
    f"{RELEASE_LINE}x). The convert scripts come from the source tree: `git clone --branch "
    f"v{RELEASE} https://github.com/NVIDIA/TensorRT-LLM` and pass `--examples-dir "
    f"TensorRT-LLM/examples` (or set {EXAMPLES_ENV})."
)


def converter_candidates(examples_dir: Path, architecture: str) -> list[Path]:
    """Where convert_checkpoint.py of `architecture` may live, most likely first."""
    folder = CONVERTER_DIRS[architecture]
    return [
        examples_dir / location.format(dir=folder) / "convert_checkpoint.py"
        for location in CONVERTER_LOCATIONS
    ]


def resolve_toolchain(dep: Deployment, examples_dir: Path | None) -> Toolchain:
    """The programs a build of `dep` would run (paths may not exist: see missing_tools)."""
    chosen = examples_dir or (
        Path(os.environ[EXAMPLES_ENV]) if os.environ.get(EXAMPLES_ENV) else None
    )
    examples = chosen.resolve() if chosen else EXAMPLES_PLACEHOLDER
    candidates = converter_candidates(examples, dep.deploy.model.architecture)
    converter = next((path for path in candidates if path.is_file()), candidates[0])
    return Toolchain(
        python=os.environ.get(PYTHON_ENV) or sys.executable,
        examples_dir=examples,
        converter=converter,
        quantizer=examples / "quantization" / "quantize.py",
        modelopt_python=modelopt_python(),
    )


def modelopt_python() -> str:
    """MODELOPT_PYTHON, else the checkout's quantization venv, else TRTLLM_PYTHON (the NGC
    container's Python has ModelOpt), else the running Python."""
    if os.environ.get(MODELOPT_PYTHON_ENV):
        return os.environ[MODELOPT_PYTHON_ENV]
    if QUANT_VENV_PYTHON.is_file():
        return str(QUANT_VENV_PYTHON)
    return os.environ.get(PYTHON_ENV) or sys.executable


def tensorrt_llm_version(python: str, code: str = VERSION_CODE) -> str | None:
    """`tensorrt_llm.__version__` as `python` imports it (last output line), None if it cannot;
    `code` may ask another module's version."""
    try:
        done = subprocess.run(
            [python, "-c", code],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if done.returncode == 0 and lines else None


def missing_tools(plans: list[EnginePlan], tools: Toolchain, version: str | None) -> list[str]:
    """What the plans need that this machine lacks, one line each (empty when all is there)."""
    steps = [step for plan in plans for step in plan.steps]
    missing = []
    if any(step.tool == "trtllm-build" for step in steps) and not shutil.which(tools.trtllm_build):
        missing.append(f"`{tools.trtllm_build}` is not on PATH")
    if version is None:
        missing.append(
            f"Python {tools.python} cannot import tensorrt_llm "
            f"(set {PYTHON_ENV} to an interpreter that can)"
        )
    elif not version.startswith(RELEASE_LINE):
        missing.append(
            f"tensorrt_llm {version} is installed, but the plans use the flags of {RELEASE} "
            f"(install tensorrt-llm=={RELEASE})"
        )
    scripts = sorted({Path(step.program[-1]) for step in steps if step.tool != "trtllm-build"})
    if scripts and tools.examples_dir == EXAMPLES_PLACEHOLDER:
        missing.append(f"no TensorRT-LLM examples folder given (--examples-dir or {EXAMPLES_ENV})")
        return missing
    missing.extend(f"{p.name} not found at {p}" for p in scripts if not p.is_file())
    return missing


QUANT_HOW_TO_GET = (
    "Get them: `./build.sh quant-tools` (a venv in .cache/quant-venv with torch, transformers "
    f"and nvidia-modelopt), or set {MODELOPT_PYTHON_ENV} to a Python that has them (inside the "
    f"NGC TensorRT-LLM container: {MODELOPT_PYTHON_ENV}=python3)."
)


def require_quant_tools(tools: Toolchain) -> str:
    """`modelopt <version>` of the quantization Python; EngineBuildError if it lacks a module."""
    version = tensorrt_llm_version(tools.modelopt_python, MODELOPT_CODE)
    if version is None:
        raise EngineBuildError(
            "ModelOpt quantization tools are missing:\n"
            f"- Python {tools.modelopt_python} cannot import torch, transformers and "
            f"modelopt\n{QUANT_HOW_TO_GET}"
        )
    return f"modelopt {version}"


def require_tools(plans: list[EnginePlan], tools: Toolchain) -> str:
    """The version of the tools the plans run ("" when none runs a tool): TensorRT-LLM's, or
    ModelOpt's for llmapi quantization; EngineBuildError naming everything that is missing."""
    steps = [step for plan in plans for step in plan.steps]
    if not steps:
        return ""
    if all(step.tool == QUANT_TOOL for step in steps):
        return require_quant_tools(tools)
    version = tensorrt_llm_version(tools.python)
    missing = missing_tools(plans, tools, version)
    if missing:
        listed = "\n".join(f"- {line}" for line in missing)
        raise EngineBuildError(f"TensorRT-LLM build tools are missing:\n{listed}\n{HOW_TO_GET}")
    return version or ""
