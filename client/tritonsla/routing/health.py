"""Replica health: a replica that refuses connections or answers UNAVAILABLE is marked down; one
that lets a first token time out is suspect. Either is held out of rotation and probed (server
readiness over gRPC, bounded by a timeout) with capped exponential backoff, and back up when a
probe answers.

A suspect replica is probed soon (it may only have been slow), but its strikes count until it
answers a request: meanwhile it is on probation (the router gives it one request at a time), and
each timeout holds it out twice as long, so a server that answers probes but not requests (a
stuck engine) draws fewer and fewer timeouts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
PROBE_TIMEOUT_S = 1.0

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
    """Which replicas are out of rotation and when each is probed next (times: monotonic)."""

    def __init__(self, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> None:
        self.base = base
        self.cap = cap
        self._lock = threading.Lock()
        self._down: dict[str, _Down] = {}
        self._strikes: dict[str, int] = {}

    def is_up(self, address: str) -> bool:
        return address not in self._down

    def mark_down(self, address: str, now: float) -> float:
        """Record a failure (refused, or a probe unanswered); returns the next probe's time."""
        with self._lock:
            down = self._down.get(address)
            failures = down.failures + 1 if down is not None else 1
            return self._hold(address, failures, now)

    def mark_suspect(self, address: str, now: float) -> float:
        """Record a first-token timeout: out of rotation until a probe answers (one strike
        more); returns the next probe's time."""
        with self._lock:
            down = self._down.get(address)
            if down is not None:  # already held out: its schedule stands
                return down.next_probe
            strikes = self._strikes[address] = self._strikes.get(address, 0) + 1
            return self._hold(address, strikes, now)

    def mark_up(self, address: str) -> None:
        """A probe answered: back in rotation (strikes stay until a request is answered)."""
        with self._lock:
            self._down.pop(address, None)

    def on_probation(self, address: str) -> bool:
        """Whether the replica timed out and has not answered a request since."""
        return address in self._strikes

    def served(self, address: str) -> None:
        """A request was answered: the replica's strikes are cleared."""
        if address in self._strikes:
            with self._lock:
                self._strikes.pop(address, None)

    def forget(self, address: str) -> None:
        """A replica left the rotation for good (discovery): no more probes, no strikes."""
        with self._lock:
            self._down.pop(address, None)
            self._strikes.pop(address, None)

    def held_out(self) -> list[str]:
        """Replicas out of rotation (down or suspect)."""
        with self._lock:
            return list(self._down)

    def due(self, now: float) -> list[str]:
        """Replicas out of rotation whose next probe time has come."""
        with self._lock:
            return [address for address, down in self._down.items() if down.next_probe <= now]

    def _hold(self, address: str, failures: int, now: float) -> float:
        next_probe = now + backoff_s(failures, self.base, self.cap)
        self._down[address] = _Down(failures, next_probe)
        return next_probe


def probe_ready(address: str, timeout: float) -> bool:
    """True when the server at `address` answers gRPC ServerReady with ready within `timeout`."""
    client = grpcclient.InferenceServerClient(address, channel_args=PROBE_CHANNEL_ARGS)
    try:
        return bool(client.is_server_ready(client_timeout=timeout))
    except InferenceServerException:
        return False
    finally:
        client.close()
