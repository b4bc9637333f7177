"""Typical latency of each endpoint, learned from the answers the client receives.

Exponentially weighted means of time to first token and time per further token, per model.
An endpoint that has not answered yet has no estimate (None): admission control then counts
only the live queue, so the client never rejects a request on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ALPHA = 0.2


@dataclass
class _Ewma:
    value: float | None = None

    def add(self, sample: float, alpha: float) -> None:
        self.value = sample if self.value is None else self.value + alpha * (sample - self.value)


class LatencyTracker:
    """EWMA of TTFT and inter-token time per model; `estimate_ms` predicts a request's e2e."""

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"`alpha` must be in (0, 1]; got {alpha}")
        self.alpha = alpha
        self._first: dict[str, _Ewma] = {}
        self._per_token: dict[str, _Ewma] = {}

    def observe_stream(self, model: str, ttft_ms: float, e2e_ms: float, tokens: int) -> None:
        """A streamed answer of `tokens` tokens: first response after `ttft_ms`, last after
        `e2e_ms`."""
        self._first.setdefault(model, _Ewma()).add(ttft_ms, self.alpha)
        if tokens > 1:
            per_token = (e2e_ms - ttft_ms) / (tokens - 1)
            self._per_token.setdefault(model, _Ewma()).add(per_token, self.alpha)

    def observe_whole(self, model: str, e2e_ms: float, tokens: int) -> None:
        """A non-streamed answer of `tokens` tokens: only the time per token is learned."""
        if tokens > 0:
            self._per_token.setdefault(model, _Ewma()).add(e2e_ms / tokens, self.alpha)

    def estimate_ms(self, model: str, max_tokens: int) -> float | None:
        """Expected milliseconds for `max_tokens` tokens; None before any answer."""
        first = self._first.get(model)
        per_token = self._per_token.get(model)
        first_ms = first.value if first is not None else None
        token_ms = per_token.value if per_token is not None else None
        if first_ms is None and token_ms is None:
            return None
        if first_ms is None:
            return (token_ms or 0.0) * max_tokens
        return first_ms + (token_ms or 0.0) * (max_tokens - 1)
