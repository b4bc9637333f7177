"""A generation request as Triton tensors, and Triton responses as text and tokens (pure).

Input names, data types and ranks come from `tritonsla.contract.ENSEMBLE_INPUTS` (the BLS model
has the same inputs); each tensor gets the batch dimension 1 in front. The sync client sends
tritonclient `InferInput`s (`build_inputs`); the asyncio client writes `ModelInferRequest`
messages on its streams itself (`build_request`). Both read responses with `parse_response`.

Output tokens are counted exactly from `output_log_probs`: every response of the ensemble and
of the BLS carries one entry per token generated in that response (`[1, beam, tokens]`), also
when the BLS holds back text that ends inside a UTF-8 character.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2
from tritonclient.utils import triton_to_np_dtype

from tritonsla.contract import ENSEMBLE_INPUTS

TEXT_OUTPUT = "text_output"
TOKENS_OUTPUT = "output_log_probs"
REQUESTED_OUTPUTS = (TEXT_OUTPUT, TOKENS_OUTPUT)
"""Outputs asked of contract models: the text and, for exact token counts, the log probs."""
FINAL_FLAG = "triton_final_response"
EMPTY_FINAL = "triton_enable_empty_final_response"
"""Request parameter: the server ends every stream with a flagged (possibly empty) response."""

_DATATYPES = {spec.name: spec.data_type.removeprefix("TYPE_") for spec in ENSEMBLE_INPUTS}
_DATATYPES["text_input"] = _DATATYPES["stop_words"] = _DATATYPES["bad_words"] = "BYTES"


@dataclass(frozen=True)
class Sampling:
    """Optional sampling inputs; None = not sent (the model's default applies)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    end_id: int | None = None
    min_tokens: int | None = None
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
        low = self.sampling.min_tokens
        if low is not None and not 0 <= low <= self.max_tokens:
            raise ValueError(
                f"`min_tokens` must be in 0..max_tokens ({self.max_tokens}); got {low}"
            )
        if not self.request_id:
            raise ValueError("`request_id` must not be empty (streams match answers by it)")


_SAMPLING_INPUTS = tuple(option.name for option in fields(Sampling))


def input_values(request: GenerateRequest) -> list[tuple[str, list]]:
    """(name, values) of every input `request` sends; strings as UTF-8 bytes."""
    values: list[tuple[str, list]] = [
        ("text_input", [request.prompt.encode("utf-8")]),
        ("max_tokens", [request.max_tokens]),
        ("stream", [request.stream]),
    ]
    sampling = request.sampling
    for name in _SAMPLING_INPUTS:
        value = getattr(sampling, name)
        if isinstance(value, tuple):
            if value:
                values.append((name, [word.encode("utf-8") for word in value]))
        elif value is not None:
            values.append((name, [value]))
    return values


def build_inputs(request: GenerateRequest) -> list[grpcclient.InferInput]:
    """The input tensors of `request` for `<profile>_tensorrt_llm_bls` or `<profile>_ensemble`."""
    inputs = []
    for name, values in input_values(request):
        datatype = _DATATYPES[name]
        dtype = np.object_ if datatype == "BYTES" else triton_to_np_dtype(datatype)
        tensor = grpcclient.InferInput(name, [1, len(values)], datatype)
        tensor.set_data_from_numpy(np.array([values], dtype=dtype))
        inputs.append(tensor)
    return inputs


def requested_outputs(contract: bool) -> list[grpcclient.InferRequestedOutput] | None:
    """Outputs the sync client asks for: REQUESTED_OUTPUTS of contract models, else all."""
    if not contract:
        return None
    return [grpcclient.InferRequestedOutput(name) for name in REQUESTED_OUTPUTS]


_PACK = {"INT32": "i", "UINT64": "Q", "FP32": "f", "BOOL": "?"}
"""struct codes of the contract's numeric input types (Triton's raw tensors are little-endian)."""


def _raw(datatype: str, values: list) -> bytes:
    """Triton's raw encoding: numbers packed, BYTES elements each behind a 4-byte length."""
    if datatype == "BYTES":
        return b"".join(len(item).to_bytes(4, "little") + item for item in values)
    return struct.pack(f"<{len(values)}{_PACK[datatype]}", *values)


def build_request(
    request: GenerateRequest,
    model: str,
    *,
    priority: int = 0,
    timeout_us: int | None = None,
    contract: bool = True,
) -> service_pb2.ModelInferRequest:
    """The gRPC message of `request` to `model`, asking for a flagged final response.

    Tensors are encoded straight into the message (no numpy). `contract`: the model serves
    the ensemble/BLS outputs, so REQUESTED_OUTPUTS are named (other models return all theirs).
    """
    message = service_pb2.ModelInferRequest(model_name=model, id=request.request_id)
    inputs = message.inputs
    contents = message.raw_input_contents
    for name, values in input_values(request):
        datatype = _DATATYPES[name]
        inputs.add(name=name, datatype=datatype, shape=(1, len(values)))
        contents.append(_raw(datatype, values))
    if contract:
        for name in REQUESTED_OUTPUTS:
            message.outputs.add(name=name)
    parameters = message.parameters
    if priority:
        parameters["priority"].uint64_param = priority
    if timeout_us is not None:
        parameters["timeout"].int64_param = timeout_us
    parameters[EMPTY_FINAL].bool_param = True
    return message


STOP_RESEND_DELAYS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
"""An abandoned request's `stop` is sent once per entry, each followed by that wait for the
request's final response (a request still queued before the engine is not found by an early
stop): at most 6 messages, and 6.3 s after the first the client gives up on it."""

_STOP_INPUTS = (
    ("input_ids", "INT32"),
    ("input_lengths", "INT32"),
    ("request_output_len", "INT32"),
    ("stop", "BOOL"),
)
"""TensorRT-LLM's cancel: a request to the engine carrying the live request's id with `stop`
set. The engine's required inputs carry placeholders (ones); only `stop` and the id matter. No
flagged final response is asked for, so the server sends nothing back unless the stop fails."""


def stop_request(engine_model: str, request_id: str) -> service_pb2.ModelInferRequest:
    """The gRPC message that stops request `request_id` at `engine_model` (asyncio client)."""
    message = service_pb2.ModelInferRequest(model_name=engine_model, id=request_id)
    for name, datatype in _STOP_INPUTS:
        message.inputs.add(name=name, datatype=datatype, shape=(1, 1))
        message.raw_input_contents.append(_raw(datatype, [1]))
    return message


def stop_inputs() -> list[grpcclient.InferInput]:
    """The input tensors of a `stop` request (sync client; the id goes with the request)."""
    inputs = []
    for name, datatype in _STOP_INPUTS:
        tensor = grpcclient.InferInput(name, [1, 1], datatype)
        tensor.set_data_from_numpy(np.ones((1, 1), triton_to_np_dtype(datatype)))
        inputs.append(tensor)
    return inputs


def is_final(response: service_pb2.ModelInferResponse) -> bool:
    """Whether `response` is its request's last (the flag asked for with EMPTY_FINAL)."""
    parameters = response.parameters
    return FINAL_FLAG in parameters and parameters[FINAL_FLAG].bool_param


class Reply(NamedTuple):
    """What one response says: its text (None: no text output), tokens (None: not counted)."""

    text: str | None
    tokens: int | None
    final: bool


def _text(raw: bytes) -> str:
    """The BYTES elements of a raw output, decoded and joined (beams side by side)."""
    parts = []
    offset = 0
    while offset + 4 <= len(raw):
        size = int.from_bytes(raw[offset : offset + 4], "little")
        parts.append(raw[offset + 4 : offset + 4 + size].decode("utf-8", errors="replace"))
        offset += 4 + size
    return "".join(parts)


def parse_response(response: service_pb2.ModelInferResponse) -> Reply:
    """Text, generated tokens (last dimension of `output_log_probs`) and final flag of a response.

    Tokens are counted over beam 0 (every beam generates in step).
    """
    text: str | None = None
    tokens: int | None = None
    for index, output in enumerate(response.outputs):
        if output.name == TEXT_OUTPUT:
            text = _text(response.raw_output_contents[index])
        elif output.name == TOKENS_OUTPUT and output.shape:
            tokens = int(output.shape[-1])
    return Reply(text, tokens, is_final(response))
