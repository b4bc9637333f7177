"""The benchmarks' echo and sleep models on the real tritonserver: served from the repository
tritonsla.bench.fixtures plans and validates, each gives every request its own text back."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from tritonsla.bench.fixtures.serving import served_repository

pytestmark = pytest.mark.integration


def contract_inputs(texts: list[bytes]) -> list[grpcclient.InferInput]:
    """A batch of requests in the ensemble's client contract (text_input, max_tokens)."""
    text = grpcclient.InferInput("text_input", [len(texts), 1], "BYTES")
    text.set_data_from_numpy(np.array([[t] for t in texts], dtype=np.object_))
    tokens = grpcclient.InferInput("max_tokens", [len(texts), 1], "INT32")
    tokens.set_data_from_numpy(np.full((len(texts), 1), 4, dtype=np.int32))
    return [text, tokens]


def test_echo_and_sleep_answer_each_request_with_its_text() -> None:
    texts = [b"the first prompt", "a second, caf\u00e9".encode()]
    with served_repository(cpu_deployment=False) as endpoints:
        client = grpcclient.InferenceServerClient(endpoints.grpc_address)
        try:
            for model in ("echo", "sleep"):
                answer = client.infer(model, contract_inputs(texts)).as_numpy("text_output")
                assert answer.tolist() == [[t] for t in texts]
        finally:
            client.close()
