"""gRPC connections to replicas, and the typed errors of their failures (both clients).

Each connection has its own subchannel (a dead replica's reconnect backoff does not leak into
the next connection) and a short reconnect backoff; opening one checks server readiness within
the connect timeout, so a refused or silent replica fails fast with a typed error.

Keepalive: while a call is open, a connection that has been quiet for KEEPALIVE_TIME_MS is
pinged, and closed when the ping is not answered within KEEPALIVE_TIMEOUT_MS, so a half-open
connection or a frozen server fails the calls on it (UNAVAILABLE: the replica is marked down)
instead of leaving them to their timeouts. gRPC's default of at most two pings until the client
sends data again is kept: Triton's default ping policy (one ping per 5 minutes without data, two
strikes) then never closes a healthy connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
import tritonclient.grpc as grpcclient
from tritonclient.grpc import MAX_GRPC_MESSAGE_SIZE, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tritonsla.routing.errors import (
    ConnectTimeoutError,
    InferenceFailedError,
    ReplicaUnavailableError,
    RequestError,
    ServerRejectedError,
    StreamBrokenError,
    TotalTimeoutError,
    TransportError,
)

if TYPE_CHECKING:
    from tritonsla.routing.result import Chunk

KEEPALIVE_TIME_MS = 10_000
KEEPALIVE_TIMEOUT_MS = 5_000

CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    # with grpcio 1.85 only this closed the connection to a frozen tritonserver
    ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_MS),
]

REJECTION_MARKERS = (
    "maximum queue size",
    "max_queue_size",
    "timeout expired",
    "unavailable",
    "server is stopping",
)
"""In-stream error messages that mean 'not now' (Triton sends no status code inside a stream)."""

BACKEND_DOWN_MARKERS = ("stub process", "failed to obtain the health mutex")
"""In-stream error messages of a model process that stopped answering, not of the request.

Triton's Python backend (python_backend r24.10, src/stub_launcher.cc and src/python_be.cc)
fails a request with "Stub process '<instance>' is not healthy." when the model's stub process
sent no heartbeat for a second while the request waited on it (dead, or stalled), and with
"Failed to obtain the health mutex." when it could not even check. The replica is at fault, so
the request goes elsewhere or waits for the replica to be ready again, as for a refused
connection; a dead stub also makes Triton report the model, and so the server, not ready."""

_REPLICA_DOWN = ("StatusCode.UNAVAILABLE", "StatusCode.CANCELLED")


class ReplicaDown(ReplicaUnavailableError):
    """The replica refused the connection or dropped it (marks it down; retried elsewhere)."""


def as_server_exception(error: grpc.RpcError) -> InferenceServerException:
    """A gRPC error as tritonclient reports it (status `StatusCode.X`, the details)."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return InferenceServerException(msg=details, status=str(code) if code else None)


def classify(
    error: InferenceServerException, target: str, chunks: Sequence[Chunk], total_s: float
) -> RequestError:
    """A tritonclient error of one attempt as a typed routing error.

    Errors of the whole gRPC call carry a status code; errors inside the stream carry only the
    server's message. A replica failure (a refused or dropped call, or a model process that
    stopped answering: BACKEND_DOWN_MARKERS) before any chunk is ReplicaDown (retried
    elsewhere); after chunks it is StreamBrokenError.
    """
    status = error.status()
    message = f"{target}: {error.message()}"
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return TotalTimeoutError(total_s, target)
    if status is not None:
        message = f"{message} [{status}]"
    lowered = message.lower()
    replica_down = status in _REPLICA_DOWN or any(m in lowered for m in BACKEND_DOWN_MARKERS)
    if replica_down:
        return StreamBrokenError(message, chunks) if chunks else ReplicaDown(message)
    if status is None:
        if any(marker in lowered for marker in REJECTION_MARKERS):
            return ServerRejectedError(message)
        return InferenceFailedError(message)
    if chunks:
        return StreamBrokenError(message, chunks)
    return TransportError(message)


def connect_error(error: InferenceServerException | None, address: str, timeout: float):
    """The typed error of a failed readiness check (None: the server answered 'not ready')."""
    if error is not None and error.status() == "StatusCode.DEADLINE_EXCEEDED":
        return ConnectTimeoutError(timeout, address)
    detail = "is not ready" if error is None else f"refused: {error.message()}"
    return ReplicaDown(f"{address} {detail}")


def connect(address: str, timeout: float) -> grpcclient.InferenceServerClient:
    """A sync client of a ready server; raises ReplicaDown or ConnectTimeoutError."""
    client = grpcclient.InferenceServerClient(address, channel_args=CHANNEL_ARGS)
    try:
        ready = client.is_server_ready(client_timeout=timeout)
    except InferenceServerException as error:
        client.close()
        raise connect_error(error, address, timeout) from None
    if not ready:
        client.close()
        raise connect_error(None, address, timeout)
    return client


async def open_channel(address: str, timeout: float) -> grpc.aio.Channel:
    """A grpc.aio channel to a ready server; raises ReplicaDown or ConnectTimeoutError."""
    channel = grpc.aio.insecure_channel(address, options=CHANNEL_ARGS)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    try:
        reply = await stub.ServerReady(service_pb2.ServerReadyRequest(), timeout=timeout)
    except grpc.RpcError as error:
        await channel.close()
        raise connect_error(as_server_exception(error), address, timeout) from None
    if not reply.ready:
        await channel.close()
        raise connect_error(None, address, timeout)
    return channel
