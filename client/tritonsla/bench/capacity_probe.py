"""Capacity probes against a running deployment, and `find_capacity` that searches over them.

    prepared = prepare(BenchOptions(Path("deploy/cpu.yaml"), prompts=Path("workload.jsonl")))
    result = asyncio.run(find_capacity(prepared, CapacitySettings(start_rps=8)))

A probe is one open-loop Poisson run at one rate through the bench runner (warm-up, per-class
SLO verdicts, goodput, server statistics), judged for saturation by `saturation.judge`. The
options' own loads and limits are not used: each probe sends `probe_seconds` worth of requests
at its rate (at least `min_probe_requests`), after the warm-up. Its arrivals are a Poisson
process conditioned on that count (`ProbeArrivals`), so every probe offers exactly its rate:
over a probe of ~60 requests a plain Poisson draw offers its rate +-13%, and a confirmation with
other arrivals would then test another load, not the same one again. Answers later than
`drain_s` after the last send are cancelled. A probe also stops early once more requests are
in flight than `stop_in_flight_s` seconds of its offered load (by Little's law, a mean latency
above that; and never with `STOP_MIN_IN_FLIGHT` or fewer in flight): the server is then
clearly behind, and the requests still in flight are cancelled and count as incomplete. It
stops as soon as its verdict is decided, too: once enough answers of a class are above a
latency objective that its percentile cannot meet it (`early_verdict`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from tritonsla.bench.benchmark import PreparedBench, sdk_sender
from tritonsla.bench.capacity import CapacityResult, CapacitySettings, Probe, search
from tritonsla.bench.early_verdict import SloMisses, planned_per_class
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.runner import ProgressHook, Sender, run_load, run_once
from tritonsla.bench.saturation import judge
from tritonsla.bench.schedule import Limits, RateStrategy, Slot
from tritonsla.bench.workload import BenchRequest

STOP_MIN_IN_FLIGHT = 10
WATCH_S = 0.2


class InFlight:
    """A sender that counts the requests it is sending and shows each record to `on_record`."""

    def __init__(
        self, sender: Sender, on_record: Callable[[RequestRecord], None] | None = None
    ) -> None:
        self.sender = sender
        self.on_record = on_record
        self.count = 0

    async def __call__(self, request: BenchRequest, slot: Slot) -> RequestRecord:
        self.count += 1
        try:
            record = await self.sender(request, slot)
        finally:
            self.count -= 1
        if self.on_record is not None:
            self.on_record(record)
        return record


@dataclass(frozen=True)
class ProbeArrivals(RateStrategy):
    """Poisson arrivals whose `measured` requests span exactly (measured - 1) / rate seconds.

    Given its count, a Poisson process's arrival times are uniform order statistics, i.e.
    exponential gaps rescaled to their total: the measured part keeps Poisson's bursts but
    offers exactly `rate`. The `warmup` requests before it, and any after it, are plain Poisson.
    """

    kind: ClassVar[str] = "poisson"
    open_loop: ClassVar[bool] = True
    warmup: int = 0
    measured: int = 2

    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        mean = 1.0 / self.rate
        yield from (float(gap) for gap in rng.exponential(mean, self.warmup))
        inner = rng.exponential(1.0, self.measured - 1)
        yield from (float(gap) for gap in inner * ((self.measured - 1) * mean / inner.sum()))
        while True:
            yield float(rng.exponential(mean))


def probe_requests(rate: float, settings: CapacitySettings) -> int:
    """Measured requests of a probe at `rate`: `probe_seconds` of them, at least the minimum."""
    return max(math.ceil(rate * settings.probe_seconds), settings.min_probe_requests)


def probe_limits(rate: float, settings: CapacitySettings) -> Limits:
    """A probe's limits: its measured requests after the warm-up."""
    return Limits(
        requests=probe_requests(rate, settings),
        warmup_requests=settings.warmup_requests,
        drain_s=settings.drain_s,
    )


def probe_arrivals(rate: float, settings: CapacitySettings) -> ProbeArrivals:
    """The arrivals of a probe at `rate` (see ProbeArrivals)."""
    return ProbeArrivals(rate, settings.warmup_requests, probe_requests(rate, settings))


def in_flight_limit(rate: float, settings: CapacitySettings) -> float:
    """Requests in flight above which a probe at `rate` stops early."""
    return max(rate * settings.stop_in_flight_s, STOP_MIN_IN_FLIGHT)


async def watch(in_flight: InFlight, limit: float, stop: asyncio.Event, seconds: float) -> str:
    """Set `stop` once more than `limit` requests are in flight; returns why, in words."""
    started = time.perf_counter()
    while in_flight.count <= limit:
        await asyncio.sleep(WATCH_S)
    stop.set()
    return (
        f"stopped early after {time.perf_counter() - started:.1f} s: {in_flight.count} requests "
        f"in flight, more than {seconds:g} s of the offered load (the server fell behind)"
    )


async def run_probe(
    rate: float,
    prepared: PreparedBench,
    sender: Sender,
    settings: CapacitySettings,
    progress: ProgressHook | None = None,
    attempt: int = 0,
) -> Probe:
    """One Poisson run at `rate`, judged (see the module docstring). Attempt n draws its
    arrivals and requests with the options' seed + n: confirmations see other traffic."""
    stop = asyncio.Event()
    limits = probe_limits(rate, settings)
    assert limits.requests is not None
    planned = planned_per_class(prepared.workload, limits.warmup_requests, limits.requests)
    misses = SloMisses(prepared.objectives, planned)
    decided: list[str] = []

    def on_record(record: RequestRecord) -> None:
        if not decided and (reason := misses.add(record)) is not None:
            decided.append(f"stopped early: {reason}")
            stop.set()

    counted = InFlight(sender, on_record)
    limit = in_flight_limit(rate, settings)
    watcher = asyncio.ensure_future(watch(counted, limit, stop, settings.stop_in_flight_s))
    started = time.perf_counter()
    try:
        run = await run_once(
            probe_arrivals(rate, settings),
            limits,
            prepared.workload,
            counted,
            prepared.objectives,
            servers=prepared.servers,
            seed=prepared.options.seed + attempt,
            progress=progress,
            stop=stop,
        )
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    stopped = decided[0] if decided else None if watcher.cancelled() else watcher.result()
    duration = time.perf_counter() - started
    judged = judge(rate, run, prepared.objectives, settings, duration_s=duration, stopped=stopped)
    return replace(judged, attempt=attempt)


WARMUP_SEED_OFFSET = 1_000_003
"""The warm-up draws its arrivals and requests apart from every probe's (seed + attempt)."""


WARMUP_DRAIN_S = 1.0
"""The warm-up's answers are not read: what is still running a second after its last send is
cancelled (the engine frees it at once), rather than waited for as a probe's are."""


def warmup_limits(settings: CapacitySettings) -> Limits:
    """The server warm-up's limits: `server_warmup_s` of the start rate, nothing measured."""
    count = max(math.ceil(settings.start_rps * settings.server_warmup_s), 2)
    return Limits(requests=count, drain_s=WARMUP_DRAIN_S)


class WarmupProgress:
    """A progress hook that shows a run as the warm-up it is."""

    def __init__(self, inner: ProgressHook) -> None:
        self.inner = inner

    def start(self, name: str, total: int | None) -> None:
        self.inner.start(f"warm-up {name}", total)

    def advance(self, record: RequestRecord) -> None:
        self.inner.advance(record)

    def finish(self) -> None:
        self.inner.finish()


async def warm_up(
    prepared: PreparedBench,
    sender: Sender,
    settings: CapacitySettings,
    progress: ProgressHook | None = None,
) -> int:
    """Unmeasured Poisson traffic at the start rate before the search; returns requests sent.

    A cold server (first BLAS calls, first touches of the weights, first imports in the model
    processes) answers its first requests slower than it will later, and the first probe is a
    rate the search then never lifts: one cold failure would cap the capacity below a rate the
    server sustains warm.
    """
    if settings.server_warmup_s <= 0:
        return 0
    limits = warmup_limits(settings)
    assert limits.requests is not None
    records = await run_load(
        ProbeArrivals(settings.start_rps, 0, limits.requests),
        limits,
        prepared.workload,
        sender,
        seed=prepared.options.seed + WARMUP_SEED_OFFSET,
        progress=None if progress is None else WarmupProgress(progress),
    )
    return len(records)


async def find_capacity(
    prepared: PreparedBench,
    settings: CapacitySettings,
    progress: ProgressHook | None = None,
    on_probe: Callable[[Probe], None] | None = None,
) -> CapacityResult:
    """The highest Poisson rate of the prepared workload at which every class meets its SLO.

    The server is warmed up first (`warm_up`). `progress` follows each probe's requests (e.g.
    `RunProgress`); `on_probe` sees each probe as it completes.
    """
    async with sdk_sender(prepared) as sender:
        await warm_up(prepared, sender, settings, progress)

        async def probe(rate: float, attempt: int) -> Probe:
            return await run_probe(rate, prepared, sender, settings, progress, attempt)

        return await search(probe, settings, on_probe)
