"""Replica health: a replica that refuses connections or answers UNAVAILABLE is marked down,
probed (server readiness over gRPC) with capped exponential backoff, and back up when ready.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0

PROBE_CHANNEL_ARGS = [("grpc.use_local_subchannel_pool", 1)]
"""A probe gets its own connection: a shared one may still sit in gRPC's reconnect backoff."""


def backoff_s(failures: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Seconds before the next probe after `failures` consecutive failures (>= 1)."""
    if failures < 1:
        raise ValueError(f"`failures` must be >= 1; got {failures}")
    return min(cap, base * 2.0 ** min(failures - 1, 62))


@dataclass
class _Down:
    failures: int
    next_probe: float


class HealthBoard:
    """Which replicas are down and when each is probed next (times: time.monotonic())."""

    def __init__(self, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> None:
        self.base = base
        self.cap = cap
        self._lock = threading.Lock()
        self._down: dict[str, _Down] = {}

    def is_up(self, address: str) -> bool:
        return address not in self._down

    def mark_down(self, address: str, now: float) -> float:
        """Record a failure; returns the time of the next probe."""
        with self._lock:
            failures = self._down[address].failures + 1 if address in self._down else 1
            next_probe = now + backoff_s(failures, self.base, self.cap)
            self._down[address] = _Down(failures, next_probe)
            return next_probe

    def mark_up(self, address: str) -> None:
        with self._lock:
            self._down.pop(address, None)

    def due(self, now: float) -> list[str]:
        """Down replicas whose next probe time has come."""
        with self._lock:
            return [address for address, down in self._down.items() if down.next_probe <= now]


def probe_ready(address: str, timeout: float) -> bool:
    """True when the server at `address` answers gRPC ServerReady with ready."""
    client = grpcclient.InferenceServerClient(address, channel_args=PROBE_CHANNEL_ARGS)
    try:
        return bool(client.is_server_ready(client_timeout=timeout))
    except InferenceServerException:
        return False
    finally:
        client.close()
