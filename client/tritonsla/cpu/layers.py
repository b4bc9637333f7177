"""The numpy building blocks of GPT-2: linear layers (fp32 or int8 weight-only), layer norm, GELU.

Activations are feature-major: a `[features, tokens]` C-contiguous array, one column per token.
Every dense layer is then a single `W @ X` GEMM on the weight as stored (`[out, in]`), the layout
OpenBLAS runs fastest at every batch size measured here (a decode batch of 1-16 columns as well
as a prefill of hundreds), and per-feature parameters broadcast as columns.

int8 weight-only quantization follows TensorRT-LLM's `int8_wo` idea: weights are stored as int8
with one symmetric scale per output channel; activations stay float32. Here the matmul runs on
the int8 weights converted to float32 on the fly (each weight is used once per step, so this is
one conversion per weight per step), then the per-channel scale is applied to the output rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8")


def quantize_int8(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 quantization of an `[out, in]` weight."""
    scale = np.abs(weight).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    quantized = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return quantized, scale.astype(np.float32)


def _column(vector: np.ndarray) -> np.ndarray:
    """A per-feature vector as a float32 `[features, 1]` column."""
    return np.ascontiguousarray(vector, np.float32).reshape(-1, 1)


@dataclass(frozen=True)
class Linear:
    """`Y = W @ X + b` on feature-major `X [in, tokens]`; W stored `[out, in]`.

    An int8 W carries one float32 scale per output channel (`scale`, shape `[out]`).
    """

    weight: np.ndarray
    bias: np.ndarray
    scale: np.ndarray | None = None

    @classmethod
    def from_conv1d(cls, weight: np.ndarray, bias: np.ndarray, precision: Precision) -> Linear:
        """Make a layer from a GPT-2 Conv1D weight `[in, out]`, quantized when int8."""
        transposed = np.ascontiguousarray(weight.T, np.float32)
        if precision == "int8":
            quantized, scale = quantize_int8(transposed)
            return cls(quantized, _column(bias), scale)
        return cls(transposed, _column(bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.scale is None:
            y = self.weight @ x
        else:
            y = self.weight.astype(np.float32) @ x
            y *= self.scale[:, None]
        y += self.bias
        return y


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation of each token (column) over its features.

    Means over features are `[1, features] @ X` products: one BLAS call each, where a numpy
    reduction along the feature axis is slower for a batch of columns.
    """

    weight: np.ndarray
    bias: np.ndarray
    eps: float
    mean_row: np.ndarray

    @classmethod
    def of(cls, weight: np.ndarray, bias: np.ndarray, eps: float) -> LayerNorm:
        """A layer norm whose per-feature weight and bias broadcast over feature-major input."""
        mean_row = np.full((1, len(weight)), 1.0 / len(weight), np.float32)
        return cls(_column(weight), _column(bias), eps, mean_row)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        centered = x - self.mean_row @ x
        var = self.mean_row @ (centered * centered)
        var += self.eps
        centered /= np.sqrt(var, out=var)
        centered *= self.weight
        centered += self.bias
        return centered


_GELU_C = np.float32(np.sqrt(2.0 / np.pi))
_GELU_C3 = np.float32(np.sqrt(2.0 / np.pi) * 0.044715)


def gelu_new(x: np.ndarray) -> np.ndarray:
    """GPT-2's GELU, tanh approximation ("gelu_new"), as a new array: in-place temporaries."""
    t = x * x
    t *= _GELU_C3
    t += _GELU_C
    t *= x  # sqrt(2/pi) (x + 0.044715 x^3)
    np.tanh(t, out=t)
    t += 1.0
    t *= x
    t *= 0.5
    return t


def softmax_(scores: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in place (masked entries may be -inf)."""
    scores -= np.maximum.reduce(scores, axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= np.add.reduce(scores, axis=-1, keepdims=True)
    return scores
