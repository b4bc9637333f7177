"""Errors of the CPU reference engine, under triton-sla's root error.

TritonSlaError
├── EngineConfigError    an engine setting is invalid (names the setting, the value and the fix)
├── InvalidRequestError  a request can never be served as sent (too long, bad ids, bad options);
│                        every engine kind's, so it lives in `tritonsla.engine_request`
└── QueueFullError       more requests wait than `max_queue_size` allows; retry later
"""

from __future__ import annotations

from tritonsla.errors import TritonSlaError


class EngineConfigError(TritonSlaError):
    """An engine setting is invalid."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field, self.problem, self.fix = field, problem, fix
        super().__init__(f"`{field}`: {problem}. Fix: {fix}")


class QueueFullError(TritonSlaError):
    """The engine's waiting queue is full (Triton answers UNAVAILABLE)."""
