"""Sleeping to an absolute `time.perf_counter` deadline, for an open loop's send times.

asyncio's timers wake late: the selector rounds its timeout up to whole milliseconds, so a
request due at t leaves at about t + 1 ms, and counting latency from t (as the schedule does)
charges that to the server. On Linux a timerfd (`timerfd_create(CLOCK_MONOTONIC)`, armed with
an absolute deadline) wakes the loop through an ordinary readable fd within tens of
microseconds; `time.perf_counter` is that same clock there. Elsewhere, or when timerfd cannot be
had, the pacer falls back to `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from collections.abc import Callable
from typing import Protocol

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_NS = 1_000_000_000


class Pacer(Protocol):
    """Waits until a `time.perf_counter` deadline (at once when it has passed)."""

    async def sleep_until(self, deadline: float) -> None: ...

    def close(self) -> None: ...


class LoopPacer:
    """asyncio.sleep to a deadline on `clock`: wakes up to about a millisecond late."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock

    async def sleep_until(self, deadline: float) -> None:
        if (delay := deadline - self.clock()) > 0:
            await asyncio.sleep(delay)

    def close(self) -> None:
        """Nothing to release."""


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFdPacer:
    """A Linux timerfd watched by the running loop; one waiter at a time."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= time.perf_counter():
            return
        ns = max(1, round(deadline * _NS))
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(ns // _NS, ns % _NS))
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None):
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        loop.add_reader(self._fd, self._expired, fired)
        try:
            await fired
        finally:
            loop.remove_reader(self._fd)

    def _expired(self, fired: asyncio.Future[None]) -> None:
        try:
            os.read(self._fd, 8)  # the expiration count; reading it disarms readability
        except BlockingIOError:
            return
        if not fired.done():
            fired.set_result(None)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def precise_pacer() -> Pacer:
    """A timerfd pacer on Linux (perf_counter on CLOCK_MONOTONIC), else the loop's timers."""
    implementation = time.get_clock_info("perf_counter").implementation
    if sys.platform.startswith("linux") and "CLOCK_MONOTONIC" in implementation:
        try:
            return TimerFdPacer()
        except (OSError, AttributeError):  # no libc symbol, or the kernel refused
            pass
    return LoopPacer()
