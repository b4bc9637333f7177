"""Which ModelOpt checkpoint an llmapi profile loads (pure naming, no side effects).

The PyTorch backend reads quantization from a pre-quantized Hugging Face checkpoint (its
`hf_quant_config.json`), so the precision of an llmapi profile decides which checkpoint the
LLM loads: the original model for fp32/fp16/bf16, a ModelOpt-quantized copy otherwise.

- fp8: FP8 weights and activations, with an FP8 KV cache (Hopper and later);
- int8: INT8 SmoothQuant (W8A8), unlike the trt-engine kind, where int8 is weight-only;
- int4: INT4 AWQ (4-bit weights, 16-bit activations).

The format names are ModelOpt's `--qformat` values of TensorRT-LLM's quantize.py and of
ModelOpt's hf_ptq.py (fp8, int8_sq, int4_awq).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Precision

CHECKPOINTS = "_checkpoints"
"""Folder under engines_dir of prebuilt checkpoints (trt-engine conversions and llmapi's
quantized hf-<format> copies, whose names never clash)."""
QUANT_TOOL = "modelopt_quantize.py"
"""The program that writes a quantized checkpoint (tritonsla/engines/modelopt_quantize.py)."""

QUANT_FORMATS: dict[str, str] = {"fp8": "fp8", "int8": "int8_sq", "int4": "int4_awq"}
"""Profile precision -> ModelOpt quantization format."""

KV_CACHE_FORMATS: dict[str, str] = {"fp8": "fp8"}
"""Precisions whose KV cache is quantized with the weights (kv_cache_config.dtype)."""

UNQUANTIZED_DTYPES: dict[str, str] = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
"""Precisions the LLM loads from the original checkpoint -> LLM() `dtype`."""


def quant_format(precision: Precision) -> str | None:
    """The ModelOpt format of `precision`, None when the original checkpoint is loaded."""
    return QUANT_FORMATS.get(precision)


def checkpoint_name(qformat: str) -> str:
    """Folder name of a quantized checkpoint under `<engines_dir>/_checkpoints/`."""
    return f"hf-{qformat}"


def checkpoint_folder(dep: Deployment, qformat: str) -> PurePosixPath:
    """The `qformat` checkpoint's folder in the deploy file's terms (below engines_dir)."""
    return PurePosixPath(dep.deploy.engines_dir) / CHECKPOINTS / checkpoint_name(qformat)
