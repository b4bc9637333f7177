"""One call of `generate`/`stream` as data: the request, its routing facts, its time budget.

Both clients build a Call from the same keyword arguments, then run attempts (one per replica
tried) against its budget: the deadline, when shorter than `Timeout.total`, is the budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from typing_extensions import TypedDict, Unpack

from tritonsla.routing.errors import RequestError
from tritonsla.routing.policy import PRIORITIES, Priority, RouteRequest
from tritonsla.routing.request import GenerateRequest, Sampling
from tritonsla.routing.result import Recorder
from tritonsla.routing.router import Pin
from tritonsla.routing.timeout import Timeout, as_timeout

DEFAULT_MAX_TOKENS = 64


@dataclass(frozen=True)
class Call:
    """A planned call; `started` is time.monotonic() when it was made."""

    request: GenerateRequest
    route: RouteRequest
    pin: Pin
    timeout: Timeout
    started: float

    @property
    def budget_s(self) -> float:
        """Seconds the whole call may take (the deadline when shorter than Timeout.total)."""
        deadline = self.route.deadline_ms
        total = self.timeout.total
        return total if deadline is None else min(total, deadline / 1000)

    def remaining_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)


class CallOptions(TypedDict, total=False):
    """Keyword arguments of `generate` and `stream` (both clients).

    sla: SLA class to use (routing by priority/deadline when absent). priority: "high",
    "normal" or "low". deadline_s: seconds after which the answer is useless; routes, admits,
    sets Triton's queue timeout and bounds the call. max_tokens: tokens to generate (default
    64). stream: one response per token(s) (default True) or one response. allow_spill: a
    looser class may take the request when its own cannot meet the deadline. min_tokens: tokens
    to generate at least (min_tokens = max_tokens gives exact output lengths; the engine refuses
    end_id=-1). temperature, top_k, top_p, seed, end_id, stop_words, bad_words: sampling
    inputs (model defaults when absent). request_id: Triton request id (128 random bits when
    absent; it must be unique among requests in flight). model: a fixed Triton
    model (e.g. "batch_ensemble"), bypassing routing and admission. url: a fixed replica
    (`host:grpc_port`). timeout: a Timeout, or seconds for every phase.
    """

    sla: str | None
    priority: Priority | None
    deadline_s: float | None
    max_tokens: int
    stream: bool
    allow_spill: bool
    min_tokens: int | None
    temperature: float | None
    top_k: int | None
    top_p: float | None
    seed: int | None
    end_id: int | None
    stop_words: Sequence[str] | None
    bad_words: Sequence[str] | None
    request_id: str | None
    model: str | None
    url: str | None
    timeout: Timeout | float | None


OPTION_NAMES = frozenset(CallOptions.__annotations__)


def make_call(prompt: str, default_timeout: Timeout, **options: Unpack[CallOptions]) -> Call:
    """Validate the keyword arguments of generate/stream and plan the call."""
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        available = ", ".join(sorted(OPTION_NAMES))
        raise TypeError(f"unknown argument(s) {', '.join(unknown)}. Available: {available}")
    priority = options.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise ValueError(f"`priority` {priority!r} is not one of: {', '.join(PRIORITIES)}")
    deadline_s = options.get("deadline_s")
    if deadline_s is not None and not deadline_s > 0:
        raise ValueError(f"`deadline_s` must be > 0 seconds; got {deadline_s!r}")
    stop_words = options.get("stop_words")
    bad_words = options.get("bad_words")
    sampling = Sampling(
        temperature=options.get("temperature"),
        top_k=options.get("top_k"),
        top_p=options.get("top_p"),
        seed=options.get("seed"),
        end_id=options.get("end_id"),
        min_tokens=options.get("min_tokens"),
        stop_words=None if stop_words is None else tuple(stop_words),
        bad_words=None if bad_words is None else tuple(bad_words),
    )
    max_tokens = options.get("max_tokens", DEFAULT_MAX_TOKENS)
    request = GenerateRequest(
        prompt,
        max_tokens,
        options.get("stream", True),
        options.get("request_id") or os.urandom(16).hex(),
        sampling,
    )
    deadline_ms = None if deadline_s is None else deadline_s * 1000
    route = RouteRequest(
        max_tokens, options.get("sla"), priority, deadline_ms, options.get("allow_spill", False)
    )
    return Call(
        request,
        route,
        Pin(options.get("model"), options.get("url")),
        as_timeout(options.get("timeout"), default_timeout),
        time.monotonic(),
    )


def failed(error: RequestError, recorder: Recorder | None) -> RequestError:
    """`error` with the partial result of its last attempt attached (when one was made)."""
    if recorder is not None:
        error.attach(recorder.result(recorder.tokens, error))
    return error
