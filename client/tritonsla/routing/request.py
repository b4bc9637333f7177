"""A generation request as Triton tensors, and Triton responses as text (pure).

Input names, data types and ranks come from `tritonsla.contract.ENSEMBLE_INPUTS` (the BLS model
has the same inputs); each tensor gets the batch dimension 1 in front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import triton_to_np_dtype

from tritonsla.contract import ENSEMBLE_INPUTS

TEXT_OUTPUT = "text_output"
FINAL_FLAG = "triton_final_response"
EMPTY_FINAL = {"triton_enable_empty_final_response": True}
"""Request parameter: the server ends every stream with a flagged (possibly empty) response."""

_DATATYPES = {spec.name: spec.data_type.removeprefix("TYPE_") for spec in ENSEMBLE_INPUTS}
_DATATYPES["text_input"] = _DATATYPES["stop_words"] = _DATATYPES["bad_words"] = "BYTES"


@dataclass(frozen=True)
class Sampling:
    """Optional sampling inputs; None = not sent (the model's default applies)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    random_seed: int | None = None
    end_id: int | None = None
    stop_words: tuple[str, ...] | None = None
    bad_words: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """One prompt with its generation options."""

    prompt: str
    max_tokens: int
    stream: bool
    request_id: str
    sampling: Sampling = field(default_factory=Sampling)

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"`max_tokens` must be >= 1; got {self.max_tokens}")


def _tensor(name: str, values: Sequence) -> grpcclient.InferInput:
    datatype = _DATATYPES[name]
    dtype = np.object_ if datatype == "BYTES" else triton_to_np_dtype(datatype)
    array = np.array([list(values)], dtype=dtype)
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def build_inputs(request: GenerateRequest) -> list[grpcclient.InferInput]:
    """The input tensors of `request` for `<profile>_tensorrt_llm_bls` or `<profile>_ensemble`."""
    inputs = [
        _tensor("text_input", [request.prompt.encode("utf-8")]),
        _tensor("max_tokens", [request.max_tokens]),
        _tensor("stream", [request.stream]),
    ]
    for option in fields(Sampling):
        value = getattr(request.sampling, option.name)
        if value is None:
            continue
        if isinstance(value, tuple):
            if value:
                inputs.append(_tensor(option.name, [word.encode("utf-8") for word in value]))
        else:
            inputs.append(_tensor(option.name, [value]))
    return inputs


def response_text(result: grpcclient.InferResult) -> str | None:
    """The text a response carries; None for a flags-only (empty final) response."""
    array = result.as_numpy(TEXT_OUTPUT)
    if array is None:
        return None
    return "".join(
        item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)
        for item in array.reshape(-1)
    )


def is_final(result: grpcclient.InferResult) -> bool:
    """True when the response closes its request's stream."""
    parameters = result.get_response().parameters
    return FINAL_FLAG in parameters and parameters[FINAL_FLAG].bool_param
