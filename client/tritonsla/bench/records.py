"""What a benchmark measures: each request's record, each load level's result, the report.

`RequestRecord`: one request, what was asked, where it went, and when each part of the answer
came. `RunResult`: one run at one load; `BenchReport`: every run of one invocation. Times are
seconds on one monotonic clock; a finished run shifts them so that 0 is the first
scheduled send. Latencies count from `scheduled` (the open-loop send time), not from `sent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the summary and server deltas are built from records: import for types only
    from tritonsla.bench.server_stats import ServerDelta
    from tritonsla.bench.summary import RunSummary

Status = Literal["ok", "error", "incomplete"]


@dataclass(frozen=True)
class RequestRecord:
    """Timing and outcome of one request.

    `status` is "ok" for a complete answer, "error" for a failed one (`error_kind` names the
    kind, e.g. "ServerRejected", "TotalTimeout", "ReplicaUnavailable"), "incomplete" when the
    run ended first.
    `chunks` are the arrival times of the streamed responses that carried tokens; a
    non-streaming answer has one.
    """

    index: int
    sla: str | None
    endpoint: str | None
    warmup: bool
    status: Status
    input_tokens: int | None
    max_tokens: int
    output_tokens: int
    scheduled: float
    sent: float | None = None
    first_token: float | None = None
    end: float | None = None
    chunks: tuple[float, ...] = ()
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def send_lag(self) -> float | None:
        """Seconds between the scheduled and the actual send."""
        return None if self.sent is None else self.sent - self.scheduled

    @property
    def ttft(self) -> float | None:
        """Time to first token, from the scheduled send."""
        return None if self.first_token is None else self.first_token - self.scheduled

    @property
    def e2e(self) -> float | None:
        """End-to-end latency, from the scheduled send to the last response."""
        return None if self.end is None else self.end - self.scheduled

    @property
    def itl(self) -> float | None:
        """Mean inter-token latency: (e2e - ttft) / (tokens - 1).

        Defined only for a streamed answer (two chunks or more) of two tokens or more: a single
        response says nothing about the gaps between tokens.
        """
        if self.end is None or self.first_token is None:
            return None
        if self.output_tokens < 2 or len(self.chunks) < 2:
            return None
        return (self.end - self.first_token) / (self.output_tokens - 1)

    @property
    def gaps(self) -> tuple[float, ...]:
        """Seconds between consecutive chunks."""
        return tuple(b - a for a, b in zip(self.chunks, self.chunks[1:], strict=False))

    def shifted(self, origin: float) -> RequestRecord:
        """The same record with every time measured from `origin`."""

        def move(value: float | None) -> float | None:
            return None if value is None else value - origin

        return replace(
            self,
            scheduled=self.scheduled - origin,
            sent=move(self.sent),
            first_token=move(self.first_token),
            end=move(self.end),
            chunks=tuple(t - origin for t in self.chunks),
        )


@dataclass(frozen=True)
class RunResult:
    """One run at one load: its records (times from its first scheduled send), summary, servers.

    `server_error` says why server statistics are missing, when they are.
    """

    name: str
    summary: RunSummary
    records: tuple[RequestRecord, ...]
    servers: tuple[ServerDelta, ...] = ()
    server_error: str | None = None


@dataclass(frozen=True)
class BenchReport:
    """Every run of one `tritonsla bench` invocation and the settings it ran with."""

    settings: dict[str, Any]
    runs: tuple[RunResult, ...]
    started_at: str
    notes: tuple[str, ...] = field(default=())
