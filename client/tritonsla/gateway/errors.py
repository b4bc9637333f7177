"""OpenAI's error JSON, and the HTTP status of every way a request can fail.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens",
               "code": "invalid_value"}}

Routing errors map to statuses by what the caller should do next: 429 with `Retry-After`
(the queue is full, come back later), 504 (the deadline cannot be met or has passed), 503 (no
replica is up), 502 (a server broke off the answer), 500 (the engine failed the request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tritonsla.routing.errors import (
    DeadlineUnmeetableError,
    ReplicaUnavailableError,
    RequestError,
    RequestTimeoutError,
    ServerRejectedError,
    StreamBrokenError,
    TransportError,
)

Outcome = Literal["ok", "rejected", "timeout", "error", "cancelled"]
"""How a routed request ended (label `outcome` of tritonsla_gateway_requests_total)."""

RETRY_AFTER_S = 1
"""`Retry-After` of a 429: a full queue drains within about a second on every class here."""


@dataclass(eq=False)
class ApiError(Exception):
    """A request answered with an OpenAI error body; `param` names the field at fault."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    type: str = "invalid_request_error"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict:
        """The JSON body: OpenAI's `{"error": {...}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(param: str | None, message: str, code: str = "invalid_value") -> ApiError:
    """A 400 naming `param` (the body field or header at fault)."""
    return ApiError(400, message, param, code)


def routing_failure(error: RequestError) -> tuple[ApiError, Outcome]:
    """The HTTP answer to a failed routed request, and its outcome label."""
    message = str(error)
    if isinstance(error, DeadlineUnmeetableError):
        return ApiError(
            504, message, "x-request-deadline-ms", "deadline_unmeetable", "timeout_error"
        ), "rejected"
    if isinstance(error, RequestTimeoutError):
        return ApiError(504, message, None, f"{error.phase}_timeout", "timeout_error"), "timeout"
    if isinstance(error, ServerRejectedError):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return ApiError(429, message, None, "queue_full", "rate_limit_error", headers), "rejected"
    if isinstance(error, ReplicaUnavailableError):
        return ApiError(503, message, None, "no_replica", "service_unavailable_error"), "error"
    if isinstance(error, StreamBrokenError | TransportError):
        return ApiError(502, message, None, "upstream_broken", "server_error"), "error"
    return ApiError(500, message, None, "engine_error", "server_error"), "error"
