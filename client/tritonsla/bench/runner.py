"""The async orchestrator: schedule -> sender -> records -> summary, one run or a sweep.

A `Sender` turns one request into a RequestRecord (times on the `time.perf_counter` clock;
request failures become records, never exceptions). The routing SDK's sender is
`tritonsla.bench.sdk.SdkSender`; tests and benchmarks can pass their own. Server statistics
are snapshotted around each run; if that fails the run still counts and says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tritonclient.utils import InferenceServerException

from tritonsla.bench.records import RequestRecord, RunResult
from tritonsla.bench.schedule import Limits, LoadStrategy, RateStrategy, Slot, schedule
from tritonsla.bench.server_stats import ServerDelta, server_delta, snapshot
from tritonsla.bench.summary import summarize
from tritonsla.bench.workload import BenchRequest, Workload
from tritonsla.profiles.schema import Slo

Sender = Callable[[BenchRequest, Slot], Awaitable[RequestRecord]]


class ProgressHook(Protocol):
    """What the runner reports while a run goes (see tritonsla.bench.progress.RunProgress)."""

    def start(self, name: str, total: int | None) -> None: ...

    def advance(self, record: RequestRecord) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class ServerTarget:
    """A server whose statistics (gRPC `address`) and metrics (`metrics_url`) are read."""

    address: str
    metrics_url: str | None = None


def expected_requests(strategy: LoadStrategy, limits: Limits) -> int | None:
    """How many requests the run will send, when known in advance (for the progress bar)."""
    if limits.requests is not None:
        return limits.requests + limits.warmup_requests
    if isinstance(strategy, RateStrategy) and limits.duration_s is not None:
        return round(strategy.rate * (limits.duration_s + limits.warmup_s))
    return None


def unfinished(request: BenchRequest, slot: Slot) -> RequestRecord:
    """The record of a request cancelled before it finished."""
    return RequestRecord(
        index=request.index,
        sla=request.sla,
        endpoint=None,
        warmup=slot.warmup,
        status="incomplete",
        input_tokens=request.input_tokens,
        max_tokens=request.max_tokens,
        output_tokens=0,
        scheduled=slot.scheduled,
        error_kind="Cancelled",
        error="the run ended before the answer did",
    )


async def run_load(
    strategy: LoadStrategy,
    limits: Limits,
    workload: Workload,
    sender: Sender,
    *,
    seed: int = 0,
    progress: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> list[RequestRecord]:
    """Send the workload per `strategy`; records in completion order, times from the first send.

    Setting `stop` ends the run early (see `schedule`).
    """
    records: list[RequestRecord] = []

    async def send(slot: Slot) -> RequestRecord:
        return await sender(workload.request(slot.index), slot)

    if progress is not None:
        progress.start(strategy.name, expected_requests(strategy, limits))
    try:
        async for outcome in schedule(strategy, limits, send, seed=seed, stop=stop):
            record = outcome.result
            if record is None:
                record = unfinished(workload.request(outcome.slot.index), outcome.slot)
            records.append(record)
            if progress is not None:
                progress.advance(record)
    finally:
        if progress is not None:
            progress.finish()
    if not records:
        return records
    origin = min(record.scheduled for record in records)
    return [record.shifted(origin) for record in records]


async def _snapshots(servers: Sequence[ServerTarget]) -> list:
    return [await snapshot(server.address, server.metrics_url) for server in servers]


async def run_once(
    strategy: LoadStrategy,
    limits: Limits,
    workload: Workload,
    sender: Sender,
    objectives: Mapping[str, Slo],
    *,
    servers: Sequence[ServerTarget] = (),
    seed: int = 0,
    progress: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """One run at one load, with server statistics deltas when `servers` are given."""
    error: str | None = None
    before: list = []
    try:
        before = await _snapshots(servers)
    except (InferenceServerException, OSError) as problem:
        error = f"statistics before the run: {problem}"
    records = await run_load(
        strategy, limits, workload, sender, seed=seed, progress=progress, stop=stop
    )
    deltas: tuple[ServerDelta, ...] = ()
    if error is None and servers:
        try:
            after = await _snapshots(servers)
            deltas = tuple(
                server_delta(server.address, old, new)
                for server, old, new in zip(servers, before, after, strict=True)
            )
        except (InferenceServerException, OSError) as problem:
            error = f"statistics after the run: {problem}"
    summary = summarize(strategy, records, objectives)
    return RunResult(strategy.name, summary, tuple(records), deltas, error)


async def run_sweep(
    strategies: Sequence[LoadStrategy],
    limits: Limits,
    workload: Workload,
    sender: Sender,
    objectives: Mapping[str, Slo],
    *,
    servers: Sequence[ServerTarget] = (),
    seed: int = 0,
    progress: ProgressHook | None = None,
) -> list[RunResult]:
    """One run per strategy, in order (a sweep over concurrencies or rates)."""
    return [
        await run_once(
            strategy,
            limits,
            workload,
            sender,
            objectives,
            servers=servers,
            seed=seed,
            progress=progress,
        )
        for strategy in strategies
    ]
