"""The open loop's pacer: never wakes before its deadline, returns at once after it."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from tritonsla.bench.pacer import LoopPacer, TimerFdPacer, precise_pacer

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


def wake_times(pacer, offsets: list[float]) -> list[tuple[float, float]]:
    """(deadline, woke) for deadlines at `offsets` seconds from now, slept in turn."""

    async def main() -> list[tuple[float, float]]:
        start = time.perf_counter()
        seen = []
        for offset in offsets:
            await pacer.sleep_until(start + offset)
            seen.append((start + offset, time.perf_counter()))
        return seen

    try:
        return asyncio.run(main())
    finally:
        pacer.close()


@linux
def test_linux_gets_the_timerfd_pacer() -> None:
    pacer = precise_pacer()
    try:
        assert isinstance(pacer, TimerFdPacer)
    finally:
        pacer.close()


@pytest.mark.parametrize("make", [LoopPacer, pytest.param(TimerFdPacer, marks=linux)])
def test_never_wakes_before_the_deadline(make) -> None:
    for deadline, woke in wake_times(make(), [0.002, 0.0035, 0.0051, 0.008, 0.0125]):
        assert woke >= deadline


@pytest.mark.parametrize("make", [LoopPacer, pytest.param(TimerFdPacer, marks=linux)])
def test_a_passed_deadline_returns_without_waiting_for_a_timer(make) -> None:
    (deadline, woke), *_ = wake_times(make(), [-1.0])
    assert woke >= deadline


@linux
def test_a_cancelled_sleep_leaves_the_pacer_usable() -> None:
    pacer = TimerFdPacer()

    async def main() -> bool:
        waiting = asyncio.ensure_future(pacer.sleep_until(time.perf_counter() + 5.0))
        await asyncio.sleep(0.001)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        deadline = time.perf_counter() + 0.002
        await asyncio.wait_for(pacer.sleep_until(deadline), 5.0)
        return time.perf_counter() >= deadline

    try:
        assert asyncio.run(main())
    finally:
        pacer.close()
