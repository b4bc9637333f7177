"""Load strategies, the planner's limits, and the scheduler (real event loop, fake senders)."""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np
import pytest
from benchkit import fake_sender

from tritonsla.bench.schedule import (
    Concurrent,
    Constant,
    Gamma,
    Limits,
    Planner,
    Poisson,
    Slot,
    schedule,
    strategy_from_name,
)
from tritonsla.bench.workload import BenchRequest
from tritonsla.errors import ConfigError


def offsets(strategy, count: int, seed: int = 0) -> np.ndarray:
    return np.array(list(itertools.islice(strategy.offsets(seed), count)))


# --- names -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("concurrent@8", Concurrent(8)),
        ("constant@4rps", Constant(4.0)),
        ("constant@2.5", Constant(2.5)),
        ("poisson@4rps", Poisson(4.0)),
        ("gamma@4rps,burstiness=0.5", Gamma(4.0, 0.5)),
        ("gamma@4rps", Gamma(4.0, 1.0)),
    ],
)
def test_names_parse_and_print_back(name: str, expected) -> None:
    strategy = strategy_from_name(name)
    assert strategy == expected
    assert strategy_from_name(strategy.name) == expected


def test_unknown_kind_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="available: concurrent, constant, poisson, gamma"):
        strategy_from_name("uniform@4rps")


@pytest.mark.parametrize(
    "name", ["concurrent@2.5", "concurrent@4rps", "poisson@", "poisson@4rps,burstiness=2"]
)
def test_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        strategy_from_name(name)


@pytest.mark.parametrize("make", [lambda: Concurrent(0), lambda: Poisson(0.0), lambda: Gamma(1, 0)])
def test_out_of_range_values_are_refused(make) -> None:
    with pytest.raises(ConfigError):
        make()


# --- arrival processes -------------------------------------------------------------------------
def test_constant_spacing_is_exact() -> None:
    times = offsets(Constant(4.0), 9)
    assert times.tolist() == [i * 0.25 for i in range(9)]


def test_poisson_mean_rate_over_many_samples() -> None:
    gaps = np.diff(offsets(Poisson(8.0), 50_001, seed=7))
    assert gaps.mean() == pytest.approx(1 / 8, rel=0.02)
    # exponential gaps: standard deviation equals the mean
    assert gaps.std() == pytest.approx(1 / 8, rel=0.03)


def test_gamma_burstiness_changes_the_variance_not_the_mean() -> None:
    rate = 5.0
    variances = {}
    for burstiness in (0.25, 1.0, 4.0):
        gaps = np.diff(offsets(Gamma(rate, burstiness), 50_001, seed=3))
        assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
        variances[burstiness] = gaps.var()
        assert gaps.var() == pytest.approx(1 / (rate**2 * burstiness), rel=0.08)
    assert variances[0.25] > variances[1.0] > variances[4.0]


def test_same_seed_same_arrivals() -> None:
    assert offsets(Poisson(3.0), 50, seed=1).tolist() == offsets(Poisson(3.0), 50, seed=1).tolist()
    assert offsets(Poisson(3.0), 50, seed=1).tolist() != offsets(Poisson(3.0), 50, seed=2).tolist()


# --- planner ---------------------------------------------------------------------------------
def test_limits_need_a_count_or_a_duration() -> None:
    with pytest.raises(ConfigError, match="neither a request count nor a duration"):
        Limits()


def test_planner_counts_warmup_requests_apart() -> None:
    planner = Planner(Limits(requests=3, warmup_requests=2), start=0.0)
    slots = list(iter(lambda: planner.next(0.0), None))
    assert [s.warmup for s in slots] == [True, True, False, False, False]
    assert [s.index for s in slots] == [0, 1, 2, 3, 4]


def test_planner_duration_starts_after_warmup_seconds() -> None:
    planner = Planner(Limits(duration_s=1.0, warmup_s=0.5), start=10.0)
    slots = [planner.next(10.0 + t / 4) for t in range(8)]  # every 0.25 s
    kept = [s for s in slots if s is not None]
    assert [s.warmup for s in kept] == [True, True, False, False, False, False]
    assert slots[6] is None
    assert planner.next(12.0) is None


# --- scheduler ---------------------------------------------------------------------------------
def _drive(strategy, limits, send, **kwargs) -> list:
    async def main() -> list:
        return [outcome async for outcome in schedule(strategy, limits, send, **kwargs)]

    return asyncio.run(main())


def _request(slot: Slot) -> BenchRequest:
    return BenchRequest(slot.index, "x", 4, "realtime", 1)


def test_closed_loop_keeps_exactly_n_in_flight() -> None:
    active = 0
    peak = 0

    async def send(slot: Slot) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1
        return slot.index

    outcomes = _drive(Concurrent(3), Limits(requests=12), send)
    assert peak == 3
    assert sorted(o.result for o in outcomes) == list(range(12))


def test_open_loop_sends_every_slot_at_its_scheduled_time_or_later() -> None:
    sent: dict[int, float] = {}

    async def send(slot: Slot) -> float:
        sent[slot.index] = time.perf_counter()
        return slot.scheduled

    outcomes = _drive(Constant(200.0), Limits(requests=10), send)
    scheduled = sorted(o.slot.scheduled for o in outcomes)
    assert np.allclose(np.diff(scheduled), 1 / 200)
    assert all(sent[o.slot.index] >= o.slot.scheduled for o in outcomes)


def test_no_coordinated_omission_latency_counts_from_the_scheduled_time() -> None:
    """A sender that can do one request at a time falls behind a 200 rps schedule.

    Request i cannot end before start + (i + 1) * service, yet was due at start + i * gap, so
    its latency from the scheduled time is at least (i + 1) * service - i * gap and grows.
    """
    service, gap = 0.02, 0.005
    sender = fake_sender(service, lock=asyncio.Lock())

    async def send(slot: Slot):
        return await sender(_request(slot), slot)

    outcomes = _drive(Constant(1 / gap), Limits(requests=8), send)
    records = sorted((o.result for o in outcomes), key=lambda r: r.index)
    for i, record in enumerate(records):
        assert record.e2e >= (i + 1) * service - i * gap - 1e-3
        # measured from the actual send it would look constant: the lag holds the difference
        assert record.e2e == pytest.approx(record.send_lag + (record.end - record.sent))
    assert records[-1].e2e > 4 * records[0].e2e
    lags = [r.send_lag for r in records]
    assert lags == sorted(lags)


def test_requests_still_running_after_the_drain_are_incomplete() -> None:
    async def send(slot: Slot) -> int:
        await asyncio.sleep(0.0 if slot.index < 2 else 30.0)
        return slot.index

    outcomes = _drive(Concurrent(4), Limits(requests=4, drain_s=0.2), send)
    assert sorted(o.result for o in outcomes if o.result is not None) == [0, 1]
    assert sorted(o.slot.index for o in outcomes if o.result is None) == [2, 3]


def test_leaving_early_cancels_every_request_in_flight() -> None:
    started: set[int] = set()
    cancelled: set[int] = set()

    async def send(slot: Slot) -> int:
        started.add(slot.index)
        if slot.index == 0:
            return 0
        try:
            await asyncio.sleep(30.0)
        except asyncio.CancelledError:
            cancelled.add(slot.index)
            raise
        return slot.index

    async def main() -> None:
        stream = schedule(Concurrent(4), Limits(requests=10), send)
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(main())
    assert len(cancelled) >= 3
    assert cancelled == started - {0}


def test_an_exception_in_the_sender_stops_the_run() -> None:
    async def send(slot: Slot) -> int:
        if slot.index == 2:
            raise RuntimeError("sender bug")
        await asyncio.sleep(0.01)
        return slot.index

    with pytest.raises(RuntimeError, match="sender bug"):
        _drive(Constant(100.0), Limits(requests=6), send)
