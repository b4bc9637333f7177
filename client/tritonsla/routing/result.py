"""What a generation returns: text, chunks with arrival times, and where it was served.

Times are `time.perf_counter_ns()` values (monotonic, one clock for the whole process), so a
load generator can line them up with its own schedule.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from tritonsla.routing.errors import RoutingError
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import Reply


@dataclass(frozen=True)
class Chunk:
    """The text of one response (one or a few tokens when streaming) and when it arrived."""

    text: str
    arrival_ns: int


@dataclass(frozen=True)
class GenerationResult:
    """One request's answer and timing. `error` is set only on partial results of failures.

    `output_tokens` is exact when the model reports its tokens (`output_log_probs` of the
    ensemble/BLS contract); else the number of chunks (streamed) or the deploy tokenizer's count
    of the text (None when unavailable).
    """

    text: str
    chunks: tuple[Chunk, ...]
    sla: str
    model: str
    replica: str
    request_id: str
    streamed: bool
    send_ns: int | None
    end_ns: int
    output_tokens: int | None
    triton_priority: int = 0
    timeout_us: int | None = None
    spilled_from: str | None = None
    attempts: int = 1
    error: RoutingError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def first_token_ns(self) -> int | None:
        return self.chunks[0].arrival_ns if self.chunks else None

    @property
    def ttft_s(self) -> float | None:
        """Seconds from sending to the first response (non-streamed: the whole answer)."""
        first = self.first_token_ns
        return None if first is None or self.send_ns is None else (first - self.send_ns) / 1e9

    @property
    def e2e_s(self) -> float | None:
        return None if self.send_ns is None else (self.end_ns - self.send_ns) / 1e9

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Seconds between consecutive chunks."""
        times = [chunk.arrival_ns for chunk in self.chunks]
        return tuple((b - a) / 1e9 for a, b in itertools.pairwise(times))

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second after the first token; None when not measurable."""
        first = self.first_token_ns
        if not self.output_tokens or first is None or self.output_tokens < 2:
            return None
        span = (self.end_ns - first) / 1e9
        return (self.output_tokens - 1) / span if span > 0 else None


@dataclass
class Recorder:
    """Collects chunks and token counts of one attempt as they arrive; `result` freezes them."""

    decision: Decision
    request_id: str
    streamed: bool
    attempts: int = 1
    send_ns: int | None = None
    chunks: list[Chunk] = field(default_factory=list)
    tokens: int | None = None
    """Tokens the responses reported so far; None while none reported any."""

    def sent(self) -> None:
        self.send_ns = time.perf_counter_ns()

    def take(self, reply: Reply, arrival_ns: int) -> Chunk | None:
        """Record one response: its tokens, and its text as a chunk (None when it has no text)."""
        if reply.tokens is not None:
            self.tokens = reply.tokens if self.tokens is None else self.tokens + reply.tokens
        if reply.text is None:
            return None
        chunk = Chunk(reply.text, arrival_ns)
        self.chunks.append(chunk)
        return chunk

    def result(
        self, output_tokens: int | None, error: RoutingError | None = None
    ) -> GenerationResult:
        decision = self.decision
        return GenerationResult(
            text="".join(chunk.text for chunk in self.chunks),
            chunks=tuple(self.chunks),
            sla=decision.endpoint.sla,
            model=decision.endpoint.model,
            replica=decision.replica.address,
            request_id=self.request_id,
            streamed=self.streamed,
            send_ns=self.send_ns,
            end_ns=time.perf_counter_ns(),
            output_tokens=output_tokens,
            triton_priority=decision.triton_priority,
            timeout_us=decision.timeout_us,
            spilled_from=decision.spilled_from,
            attempts=self.attempts,
            error=error,
        )
