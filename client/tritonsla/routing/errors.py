"""Errors of the routing client; the tree is drawn in `tritonsla.routing`'s docstring.

Request errors carry `result`: the partial GenerationResult (chunks that arrived, timings),
so a load generator can account for a failed request without a second bookkeeping path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tritonsla.errors import TritonSlaError

if TYPE_CHECKING:
    from tritonsla.routing.result import Chunk, GenerationResult


class RoutingError(TritonSlaError):
    """Root of the routing client's errors."""


class UnknownEndpointError(RoutingError):
    """An SLA class, model or replica is not in the endpoint table."""

    def __init__(self, kind: str, name: str, available: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = tuple(available)
        super().__init__(f"unknown {kind} {name!r}. Available: {', '.join(available)}")


class RequestError(RoutingError):
    """One request failed; `result` holds what was known of it (chunks, timings) or None."""

    result: GenerationResult | None = None

    def attach(self, result: GenerationResult) -> None:
        """Record the partial result of the failed request."""
        self.result = result


class DeadlineUnmeetableError(RequestError):
    """Admission control: the estimated completion exceeds the deadline; nothing was sent."""

    def __init__(self, sla: str, deadline_ms: float, estimate_ms: float) -> None:
        self.sla = sla
        self.deadline_ms = deadline_ms
        self.estimate_ms = estimate_ms
        super().__init__(
            f"class {sla!r} would answer in ~{estimate_ms:.0f} ms but the deadline is "
            f"{deadline_ms:.0f} ms; the request was not sent. Raise `deadline_s`, or pass "
            "allow_spill=True to let a looser class take it"
        )


class TransportError(RequestError):
    """No complete answer came back from a server (connection, timeout, broken stream)."""


class ReplicaUnavailableError(TransportError):
    """Every replica that could take the request refused the connection or is marked down."""


class RequestTimeoutError(TransportError):
    """A phase of the request's Timeout elapsed; the call was cancelled on the server."""

    phase = "total"

    def __init__(self, seconds: float, target: str) -> None:
        self.seconds = seconds
        self.target = target
        super().__init__(
            f"{self.phase} timeout of {seconds:g} s elapsed on {target}; raise "
            f"Timeout({self.phase}=...) or send less work"
        )


class ConnectTimeoutError(RequestTimeoutError):
    """The server did not accept the connection in time."""

    phase = "connect"


class FirstTokenTimeoutError(RequestTimeoutError):
    """The first response did not arrive in time."""

    phase = "first_token"


class TotalTimeoutError(RequestTimeoutError):
    """The whole answer did not arrive in time (the deadline, when shorter, counts here)."""

    phase = "total"


class StreamBrokenError(TransportError):
    """The stream broke after some chunks had reached the caller; `chunks` holds them."""

    def __init__(self, message: str, chunks: Sequence[Chunk]) -> None:
        self.chunks = tuple(chunks)
        super().__init__(f"{message} (after {len(self.chunks)} chunk(s))")


class ServerAnswerError(RequestError):
    """The server answered the request with an error."""


class ServerRejectedError(ServerAnswerError):
    """The server turned the request away: queue full, queue timeout, or not available."""


class InferenceFailedError(ServerAnswerError):
    """The model failed the request (invalid input, engine error)."""
