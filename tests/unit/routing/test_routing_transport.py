"""The transport's error classification: a tritonclient error as a typed routing error."""

from __future__ import annotations

import pytest
from tritonclient.utils import InferenceServerException

from tritonsla.routing.errors import (
    InferenceFailedError,
    ServerRejectedError,
    StreamBrokenError,
    TotalTimeoutError,
    TransportError,
)
from tritonsla.routing.result import Chunk
from tritonsla.routing.transport import ReplicaDown, classify


def _error(message: str, status: str | None = None) -> InferenceServerException:
    return InferenceServerException(msg=message, status=status)


CHUNK = [Chunk("x", 1)]


@pytest.mark.parametrize(
    ("error", "chunks", "expected"),
    [
        (_error("Exceeds maximum queue size"), [], ServerRejectedError),
        (_error("Request timeout expired"), CHUNK, ServerRejectedError),
        (
            _error("2 requests already wait (max_queue_size 8); retry later"),
            [],
            ServerRejectedError,
        ),
        (_error("in ensemble: unexpected shape for input 'max_tokens'"), [], InferenceFailedError),
        (_error("failed to connect to all addresses", "StatusCode.UNAVAILABLE"), [], ReplicaDown),
        (_error("Socket closed", "StatusCode.UNAVAILABLE"), CHUNK, StreamBrokenError),
        (_error("Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED"), CHUNK, TotalTimeoutError),
        (_error("boom", "StatusCode.INTERNAL"), [], TransportError),
        # Triton's Python backend when a model's stub process stops answering
        (_error("Stub process 'realtime_tensorrt_llm_bls_0_0' is not healthy."), [], ReplicaDown),
        (_error("Stub process is not healthy."), CHUNK, StreamBrokenError),
        (_error("Failed to obtain the health mutex."), [], ReplicaDown),
        (_error("Stub process 'x_0_0' is not healthy.", "StatusCode.INTERNAL"), [], ReplicaDown),
    ],
)
def test_classify(error, chunks, expected):
    typed = classify(error, "h:1", chunks, 3.0)
    assert type(typed) is expected
    assert "h:1" in str(typed)
    if expected is StreamBrokenError:
        assert typed.chunks == tuple(CHUNK)
