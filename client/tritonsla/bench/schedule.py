"""Load strategies, registered by name, and the scheduler that drives them.

Names read like guidellm's: `concurrent@8` (closed loop, 8 requests in flight), `constant@4rps`,
`poisson@4rps`, `gamma@4rps,burstiness=0.5` (open loop); a fixed schedule of given send times
(`fixed@...`, from a file, not from a name) is open loop too. Open-loop requests each get a
scheduled send time before anything is sent; latencies are measured from that time, so a client
or server that falls behind shows up as latency instead of being hidden (no coordinated
omission); on the `time.perf_counter` clock they are released by a timerfd pacer
(`tritonsla.bench.pacer`), within tens of microseconds of their time instead of about a
millisecond late. In a closed loop the scheduled time is the moment a worker is free to send.

`schedule()` is an async generator: it yields every request's outcome as it completes, and its
`finally` cancels the dispatcher, the workers and any request still in flight. Setting its
`stop` event ends a run early: nothing more is sent and requests in flight are cancelled (their
outcomes still come out, unfinished).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import numpy as np

from tritonsla.bench.pacer import LoopPacer, precise_pacer
from tritonsla.errors import ConfigError

T = TypeVar("T")
Clock = Callable[[], float]
SOURCE = "load strategy"
CLOSED_LOOP_TICK_S = 0.05
"""How often a closed loop checks its limits while every worker waits for an answer."""


class LoadStrategy(ABC):
    """How requests are released: a closed loop of workers or an open-loop arrival process."""

    kind: ClassVar[str]
    open_loop: ClassVar[bool]

    @property
    @abstractmethod
    def name(self) -> str:
        """Readable name that `strategy_from_name` parses back, e.g. `poisson@4rps`."""


@dataclass(frozen=True)
class Concurrent(LoadStrategy):
    """Closed loop: `concurrency` workers, each sends its next request when the last ends."""

    concurrency: int
    kind: ClassVar[str] = "concurrent"
    open_loop: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(SOURCE, self.name, "concurrency must be at least 1", "use e.g. 4")

    @property
    def name(self) -> str:
        return f"concurrent@{self.concurrency}"


@dataclass(frozen=True)
class RateStrategy(LoadStrategy):
    """Open loop at a mean of `rate` requests/s; subclasses draw the gaps between arrivals."""

    rate: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ConfigError(SOURCE, self.name, "the rate must be > 0 requests/s", "use e.g. 4")

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.rate:g}rps"

    @abstractmethod
    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        """Seconds between consecutive arrivals, endlessly."""

    def offsets(self, seed: int) -> Iterator[float]:
        """Scheduled send times in seconds from the start: 0, then the running sum of gaps."""
        at = 0.0
        for gap in self.gaps(np.random.default_rng(seed)):
            yield at
            at += gap


@dataclass(frozen=True)
class Constant(RateStrategy):
    """Evenly spaced arrivals, `1/rate` apart."""

    kind: ClassVar[str] = "constant"
    open_loop: ClassVar[bool] = True

    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        while True:
            yield 1.0 / self.rate


@dataclass(frozen=True)
class Poisson(RateStrategy):
    """A Poisson process: exponential gaps of mean `1/rate`."""

    kind: ClassVar[str] = "poisson"
    open_loop: ClassVar[bool] = True

    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        while True:
            yield float(rng.exponential(1.0 / self.rate))


@dataclass(frozen=True)
class Gamma(RateStrategy):
    """Gamma-distributed gaps of mean `1/rate` (as vLLM's benchmark's `--burstiness`).

    Shape = `burstiness`: 1 is a Poisson process, below 1 burstier (variance of the gaps
    `1/(rate² · burstiness)`), above 1 more even.
    """

    burstiness: float = 1.0
    kind: ClassVar[str] = "gamma"
    open_loop: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.burstiness) and self.burstiness > 0):
            raise ConfigError(SOURCE, self.name, "burstiness must be > 0", "use e.g. 0.5")

    @property
    def name(self) -> str:
        return f"gamma@{self.rate:g}rps,burstiness={self.burstiness:g}"

    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        scale = 1.0 / (self.rate * self.burstiness)
        while True:
            yield float(rng.gamma(self.burstiness, scale))


@dataclass(frozen=True)
class FixedSchedule(RateStrategy):
    """Given send times (aiperf's and genai-perf's `--fixed-schedule`), e.g. a recorded run's.

    `times` are seconds from the start of the run, non-decreasing, the first 0; `rate` is their
    mean rate. Build it with `FixedSchedule.of(times)`. The run ends when the times do.
    """

    times: tuple[float, ...] = ()
    kind: ClassVar[str] = "fixed"
    open_loop: ClassVar[bool] = True

    @classmethod
    def of(cls, times: Sequence[float]) -> FixedSchedule:
        """The schedule of `times` (seconds, any origin): shifted so the first is 0, sorted."""
        if len(times) < 2:
            raise ConfigError(SOURCE, "fixed schedule", "fewer than 2 send times", "give more")
        if not all(math.isfinite(t) for t in times):
            raise ConfigError(SOURCE, "fixed schedule", "a send time is not finite", "fix it")
        ordered = sorted(times)
        span = ordered[-1] - ordered[0]
        if span <= 0:
            raise ConfigError(
                SOURCE, "fixed schedule", "every send time is the same", "spread them out"
            )
        shifted = tuple(t - ordered[0] for t in ordered)
        return cls((len(ordered) - 1) / span, shifted)

    @property
    def name(self) -> str:
        return f"fixed@{len(self.times)}x{self.rate:.3g}rps"

    def gaps(self, rng: np.random.Generator) -> Iterator[float]:
        return iter(np.diff(self.times).tolist())

    def offsets(self, seed: int) -> Iterator[float]:
        return iter(self.times)


def schedule_times(text: str, source: str) -> list[float]:
    """Send times (s) of a JSONL trace whose lines carry `timestamp` in ms (aiperf's and
    Mooncake's field); other fields are ignored, blank lines skipped."""
    times: list[float] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            entry = json.loads(line)
        except ValueError as problem:
            raise ConfigError(where, "line", f"not JSON ({problem})", "one object a line") from None
        stamp = entry.get("timestamp") if isinstance(entry, dict) else None
        if isinstance(stamp, bool) or not isinstance(stamp, int | float) or stamp < 0:
            raise ConfigError(
                where, "timestamp", "missing or not a number >= 0", 'write {"timestamp": 125.0}'
            )
        times.append(float(stamp) / 1000.0)
    return times


STRATEGIES: dict[str, type[LoadStrategy]] = {
    cls.kind: cls for cls in (Concurrent, Constant, Poisson, Gamma)
}
"""Every load strategy by kind, for names and `--arrival`."""

_VALUE = re.compile(
    r"(?P<value>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?P<rps>rps)?(?:,burstiness=(?P<b>[^,]+))?"
)
_EXAMPLES = "concurrent@8, constant@4rps, poisson@4rps or gamma@4rps,burstiness=0.5"


def strategy_from_name(name: str) -> LoadStrategy:
    """Parse `concurrent@8`, `constant@4rps`, `poisson@4rps`, `gamma@4rps,burstiness=0.5`."""
    kind, _, rest = name.strip().partition("@")
    if kind not in STRATEGIES:
        raise ConfigError(
            SOURCE, name, f"unknown kind {kind!r}", f"available: {', '.join(STRATEGIES)}"
        )
    match = _VALUE.fullmatch(rest)
    wrong = (
        match is None
        or (kind == "concurrent" and match["rps"] is not None)
        or (kind != "gamma" and match["b"] is not None)
    )
    if wrong:
        raise ConfigError(SOURCE, name, "cannot parse the name", f"write {_EXAMPLES}")
    assert match is not None
    value = float(match["value"])
    if kind == "concurrent":
        if not value.is_integer():
            raise ConfigError(SOURCE, name, "concurrency must be a whole number", "use e.g. 8")
        return Concurrent(int(value))
    if kind == "gamma":
        try:
            burstiness = float(match["b"]) if match["b"] else 1.0
        except ValueError:
            raise ConfigError(SOURCE, name, "burstiness is not a number", "use e.g. 0.5") from None
        return Gamma(value, burstiness)
    return STRATEGIES[kind](value)  # type: ignore[call-arg]


@dataclass(frozen=True)
class Limits:
    """When to stop and what to leave out of the statistics.

    Warm-up: the first `warmup_requests` requests and every request scheduled in the first
    `warmup_s` seconds are sent but flagged. The measured part then ends after `requests`
    requests or `duration_s` seconds of schedule, whichever comes first. Requests still in
    flight `drain_s` seconds after the last one was scheduled are cancelled (incomplete).
    """

    requests: int | None = None
    duration_s: float | None = None
    warmup_requests: int = 0
    warmup_s: float = 0.0
    drain_s: float = 60.0

    def __post_init__(self) -> None:
        if self.requests is None and self.duration_s is None:
            raise ConfigError(
                SOURCE,
                "limits",
                "neither a request count nor a duration is set",
                "give a request count, a duration, or both",
            )
        checks = {
            "requests": self.requests is None or self.requests >= 1,
            "duration_s": self.duration_s is None or self.duration_s > 0,
            "warmup_requests": self.warmup_requests >= 0,
            "warmup_s": self.warmup_s >= 0,
            "drain_s": self.drain_s > 0,
        }
        for field, ok in checks.items():
            if not ok:
                raise ConfigError(SOURCE, f"limits.{field}", "out of range", "use a positive value")


@dataclass(frozen=True)
class Slot:
    """One request to send: its position, when it is due (clock seconds) and whether it counts."""

    index: int
    scheduled: float
    warmup: bool


class Planner:
    """Hands out slots in order and decides warm-up and the end of the run (no I/O, no clock)."""

    def __init__(self, limits: Limits, start: float) -> None:
        self.limits = limits
        self.start = start
        self.issued = 0
        self.measured = 0
        self.measure_start: float | None = None
        self.done = False

    def next(self, scheduled: float) -> Slot | None:
        """The slot for a request due at `scheduled`, or None once the limits are reached."""
        if self.done:
            return None
        lim = self.limits
        warmup = self.issued < lim.warmup_requests or scheduled - self.start < lim.warmup_s
        if not warmup:
            if self.measure_start is None:
                self.measure_start = scheduled
            if self.finished(scheduled):
                return None
            self.measured += 1
        slot = Slot(self.issued, scheduled, warmup)
        self.issued += 1
        return slot

    def finished(self, now: float) -> bool:
        """True once no further slot will be issued: the count is reached or the time is up."""
        lim = self.limits
        if not self.done:
            over_count = lim.requests is not None and self.measured >= lim.requests
            over_time = (
                lim.duration_s is not None
                and self.measure_start is not None
                and now - self.measure_start >= lim.duration_s
            )
            self.done = over_count or over_time
        return self.done


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What became of a slot: the sender's result, or None when it was cancelled unfinished."""

    slot: Slot
    result: T | None


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _drain(
    tasks: set[asyncio.Task[None]], timeout: float, halt: asyncio.Event
) -> set[asyncio.Task[None]]:
    """Wait up to `timeout` s for `tasks`, or until `halt` is set; the tasks still running."""
    deadline = asyncio.get_running_loop().time() + timeout
    halted = asyncio.ensure_future(halt.wait())
    try:
        while tasks and not halt.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            done, _ = await asyncio.wait(
                {*tasks, halted}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            tasks = tasks - done
    finally:
        halted.cancel()
    return {task for task in tasks if not task.done()}


async def schedule(
    strategy: LoadStrategy,
    limits: Limits,
    send: Callable[[Slot], Awaitable[T]],
    *,
    seed: int = 0,
    clock: Clock = time.perf_counter,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Outcome[T]]:
    """Release slots per `strategy` into `send` and yield each outcome as it completes.

    `send` should turn request errors into results; an exception it raises stops the run and is
    re-raised here. Leaving the generator early (break, Ctrl-C) cancels everything in flight;
    so does setting `stop`, except that the cancelled requests' outcomes are still yielded.
    """
    queue: asyncio.Queue[Outcome[T] | _Failed | None] = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()  # open loop: one per request; closed: the workers
    planner = Planner(limits, clock())
    stopped = asyncio.Event()
    halt = stop or asyncio.Event()  # without `stop`, never set

    async def run_one(slot: Slot) -> None:
        try:
            queue.put_nowait(Outcome(slot, await send(slot)))
        except asyncio.CancelledError:
            queue.put_nowait(Outcome(slot, None))
            raise
        except Exception as error:  # handed to the consumer, re-raised there
            queue.put_nowait(_Failed(error))

    def start(work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        running.add(task)
        task.add_done_callback(running.discard)

    async def open_loop(rate: RateStrategy) -> None:
        pacer = precise_pacer() if clock is time.perf_counter else LoopPacer(clock)
        try:
            for offset in rate.offsets(seed):
                due = planner.start + offset
                slot = planner.next(due)
                if slot is None or halt.is_set():
                    return
                await pacer.sleep_until(due)
                if halt.is_set():  # noticed within one gap between arrivals
                    return
                start(run_one(slot))
        finally:
            pacer.close()

    async def worker() -> None:
        while not halt.is_set() and (slot := planner.next(clock())) is not None:
            await run_one(slot)
        stopped.set()

    async def produce() -> None:
        try:
            if isinstance(strategy, RateStrategy):
                await open_loop(strategy)
            else:
                for _ in range(strategy.concurrency):  # type: ignore[attr-defined]
                    start(worker())
                # workers are busy when the limits are reached: notice it without them
                while not (stopped.is_set() or halt.is_set() or planner.finished(clock())):
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stopped.wait(), CLOSED_LOOP_TICK_S)
            late = await _drain(set(running), limits.drain_s, halt)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        finally:
            queue.put_nowait(None)

    producer = asyncio.create_task(produce())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, _Failed):
                raise item.error
            yield item
        await producer
    finally:
        producer.cancel()
        for task in list(running):
            task.cancel()
        await asyncio.gather(producer, *running, return_exceptions=True)
