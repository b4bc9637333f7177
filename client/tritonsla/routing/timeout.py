"""`Timeout`: one object for every phase of a request, as httpx.Timeout.

    Timeout(30.0)                       # every phase 30 s
    Timeout(30.0, connect=2.0)          # connect 2 s, first token and total 30 s

Every call has a timeout: a phase cannot be disabled, only made long.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, init=False)
class Timeout:
    """Seconds allowed to connect, to receive the first response, and for the whole answer."""

    connect: float
    first_token: float
    total: float

    def __init__(
        self,
        default: float = 60.0,
        *,
        connect: float | None = None,
        first_token: float | None = None,
        total: float | None = None,
    ) -> None:
        values = {
            "connect": default if connect is None else connect,
            "first_token": default if first_token is None else first_token,
            "total": default if total is None else total,
        }
        for name, value in values.items():
            if not value > 0:
                raise ValueError(f"Timeout `{name}` must be > 0 seconds; got {value!r}")
            object.__setattr__(self, name, float(value))


DEFAULT_TIMEOUT = Timeout(60.0, connect=5.0)


def as_timeout(value: Timeout | float | None, default: Timeout) -> Timeout:
    """A Timeout from a per-call value: a Timeout, seconds for every phase, or None (default)."""
    if value is None:
        return default
    return value if isinstance(value, Timeout) else Timeout(value)
