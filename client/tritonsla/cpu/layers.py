"""The numpy building blocks of GPT-2: linear layers (fp32 or int8 weight-only), layer norm, GELU.

int8 weight-only quantization follows TensorRT-LLM's `int8_wo` idea: weights are stored as int8
with one symmetric scale per output channel; activations stay float32. Here the matmul runs on
the int8 weights converted to float32 on the fly, then the per-channel scale is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8")


def quantize_int8(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 quantization of a `[in, out]` weight."""
    scale = np.abs(weight).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    quantized = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return quantized, scale.astype(np.float32)


@dataclass(frozen=True)
class Linear:
    """`y = x @ W + b` with W in Conv1D layout `[in, out]`; int8 W carries per-column scales."""

    weight: np.ndarray
    bias: np.ndarray
    scale: np.ndarray | None = None

    @classmethod
    def build(cls, weight: np.ndarray, bias: np.ndarray, precision: Precision) -> Linear:
        """Make a layer from float weights, quantizing them when `precision` is int8."""
        if precision == "int8":
            quantized, scale = quantize_int8(weight)
            return cls(quantized, bias, scale)
        return cls(np.ascontiguousarray(weight, np.float32), bias)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.scale is None:
            return x @ self.weight + self.bias
        return (x @ self.weight.astype(np.float32)) * self.scale + self.bias


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation over the last axis."""

    weight: np.ndarray
    bias: np.ndarray
    eps: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        var = np.mean(centered * centered, axis=-1, keepdims=True)
        return centered / np.sqrt(var + self.eps) * self.weight + self.bias


_GELU_C = np.float32(np.sqrt(2.0 / np.pi))


def gelu_new(x: np.ndarray) -> np.ndarray:
    """GPT-2's GELU, tanh approximation ("gelu_new")."""
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + np.float32(0.044715) * x * x * x)))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (masked entries may be -inf)."""
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)
