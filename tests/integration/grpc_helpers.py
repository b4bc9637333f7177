"""Plain tritonclient calls used by integration tests (the real client; no mocks)."""

from __future__ import annotations

import queue
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


@dataclass
class StreamResult:
    """Responses of one decoupled request: arrival times and texts, or the error."""

    times: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: InferenceServerException | None = None

    @property
    def text(self) -> str:
        return "".join(self.texts)


def text_inputs(prompt: str, max_tokens: int, stream: bool, **extra) -> list:
    """Ensemble/BLS inputs: text_input, max_tokens, stream, plus typed optional scalars."""
    values = {
        "text_input": np.array([[prompt.encode()]], dtype=object),
        "max_tokens": np.array([[max_tokens]], dtype=np.int32),
        "stream": np.array([[stream]], dtype=bool),
    }
    types = {
        "temperature": np.float32,
        "top_p": np.float32,
        "top_k": np.int32,
        "seed": np.uint64,
        "end_id": np.int32,
        "exclude_input_in_output": bool,
    }
    for name, value in extra.items():
        values[name] = np.array([[value]], dtype=types[name])
    inputs = []
    for name, array in values.items():
        dtype = "BYTES" if array.dtype == object else grpcclient.np_to_triton_dtype(array.dtype)
        tensor = grpcclient.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def generate(
    url: str,
    model: str,
    prompt: str,
    max_tokens: int = 16,
    stream: bool = True,
    timeout_s: float = 120.0,
    priority: int = 0,
    request_id: str | None = None,
    **extra,
) -> StreamResult:
    """Send one request over a gRPC stream and collect every response until the final one."""
    responses: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(url)
    result = StreamResult()
    try:
        client.start_stream(
            callback=lambda result, error: responses.put((time.perf_counter(), result, error))
        )
        client.async_stream_infer(
            model,
            text_inputs(prompt, max_tokens, stream, **extra),
            request_id=request_id or uuid.uuid4().hex,
            priority=priority,
            enable_empty_final_response=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            arrived, response, error = responses.get(timeout=max(0.1, deadline - time.monotonic()))
            if error is not None:
                result.error = error
                break
            out = response.as_numpy("text_output")
            if out is not None and out.size:
                result.times.append(arrived)
                result.texts.append(b"".join(out.reshape(-1)).decode("utf-8"))
            final = response.get_response().parameters.get("triton_final_response")
            if final is not None and final.bool_param:
                break
    finally:
        client.stop_stream(cancel_requests=True)
        client.close()
    return result
