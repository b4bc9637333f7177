"""Per-group metrics of a run (pure): distributions, throughput, goodput and the send-lag check.

A group is the measured (non-warm-up) requests of one SLA class, of one endpoint, or all of
them. Every group of a run shares one window, from the first scheduled send to the last answer,
so class throughputs add up to the run's. Goodput counts the requests that meet every
per-request threshold of their own class's objective (`ttft_ms`, `itl_ms`, `e2e_ms`).

Distribution summaries interpolate percentiles linearly (numpy's default, as genai-perf). The
schedule check measures send lag = actual send - scheduled send: a load generator that cannot
send on time under-reports latency and over-states the load it offered, so a run is flagged when
the p99 send lag exceeds `MAX_LAG_MS` (10 ms), or, in an open loop, 5% of the mean time between
scheduled sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tritonsla.bench.records import RequestRecord
from tritonsla.profiles.schema import Slo

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)


@dataclass(frozen=True)
class Distribution:
    """Summary of a sample; percentiles interpolate linearly (numpy's default, as genai-perf).

    `std` is the population standard deviation (ddof=0).
    """

    count: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float], scale: float = 1.0) -> Distribution | None:
        """Summary of `values` times `scale` (e.g. 1000 for seconds -> ms); None when empty."""
        data = np.fromiter(values, dtype=float) * scale
        if data.size == 0:
            return None
        p50, p90, p95, p99 = np.percentile(data, PERCENTILES)
        return cls(
            count=int(data.size),
            mean=float(data.mean()),
            std=float(data.std()),
            min=float(data.min()),
            p50=float(p50),
            p90=float(p90),
            p95=float(p95),
            p99=float(p99),
            max=float(data.max()),
        )


def percentile(values: Iterable[float], q: float) -> float | None:
    """The `q`-th percentile of `values`, linear as numpy's, but +inf-safe; None when empty.

    Failed requests enter SLO verdicts as +inf: a rank that interpolates towards one is +inf.
    """
    ordered = np.sort(np.fromiter(values, dtype=float))
    if ordered.size == 0:
        return None
    rank = q / 100 * (ordered.size - 1)
    low = int(np.floor(rank))
    fraction = rank - low
    if fraction == 0:
        return float(ordered[low])
    below, above = float(ordered[low]), float(ordered[low + 1])
    return below + (above - below) * fraction if np.isfinite(above) else float("inf")


MS = 1000.0
THRESHOLDS: tuple[str, ...] = ("ttft_ms", "itl_ms", "e2e_ms")
"""Per-request thresholds of an objective, in the order reports show them."""


@dataclass(frozen=True)
class Counts:
    """How the group's requests ended."""

    total: int
    ok: int
    error: int
    incomplete: int


@dataclass(frozen=True)
class GroupMetrics:
    """Metrics of one group; latencies in ms, rates per second of the run's window.

    `itl_ms` holds one value per request ((e2e - ttft) / (tokens - 1)); `chunk_gap_ms` holds
    every gap between consecutive streamed responses. `good` and `goodput_rps` are None when
    no request of the group has a per-request threshold.
    """

    name: str
    counts: Counts
    errors: dict[str, int]
    window_s: float | None
    requests_per_s: float | None
    output_tokens_per_s: float | None
    good: int | None
    goodput_rps: float | None
    ttft_ms: Distribution | None
    itl_ms: Distribution | None
    chunk_gap_ms: Distribution | None
    e2e_ms: Distribution | None
    input_tokens: Distribution | None
    output_tokens: Distribution | None


def measured(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """The records that count: warm-up left out."""
    return [r for r in records if not r.warmup]


def run_window(records: Sequence[RequestRecord]) -> float | None:
    """Seconds from the first scheduled send to the last answer of the measured requests."""
    ends = [r.end for r in records if r.end is not None]
    if not ends:
        return None
    window = max(ends) - min(r.scheduled for r in records)
    return window if window > 0 else None


def threshold_value(slo: Slo | None, key: str) -> float | None:
    """The `key` threshold of `slo` (ttft_ms, itl_ms, e2e_ms), None when unset."""
    return None if slo is None else getattr(slo, key)


def record_value_ms(record: RequestRecord, key: str) -> float | None:
    """The record's measure for threshold `key`, in ms."""
    value = {"ttft_ms": record.ttft, "itl_ms": record.itl, "e2e_ms": record.e2e}[key]
    return None if value is None else value * MS


def has_thresholds(slo: Slo | None) -> bool:
    return any(threshold_value(slo, key) is not None for key in THRESHOLDS)


def meets_thresholds(slo: Slo | None, values_ms: Mapping[str, float | None]) -> bool:
    """True when every per-request threshold of `slo` is met by `values_ms` (by THRESHOLDS
    key). An unmeasurable value passes its threshold only for ITL of a one-token or
    non-streamed answer, which has no gaps between tokens."""
    for key in THRESHOLDS:
        limit = threshold_value(slo, key)
        if limit is None:
            continue
        value = values_ms.get(key)
        if value is None and key == "itl_ms":
            continue
        if value is None or value > limit:
            return False
    return True


def is_good(record: RequestRecord, slo: Slo | None) -> bool:
    """True when `record` succeeded and meets every per-request threshold of `slo`."""
    return record.ok and meets_thresholds(
        slo, {key: record_value_ms(record, key) for key in THRESHOLDS}
    )


def _rate(count: float, window: float | None) -> float | None:
    return None if window is None else count / window


def group_metrics(
    name: str,
    records: Sequence[RequestRecord],
    window: float | None,
    objective_of: Callable[[RequestRecord], Slo | None],
) -> GroupMetrics:
    """Metrics of the measured `records` of one group over the run's `window`."""
    ok = [r for r in records if r.ok]
    status = Counter(r.status for r in records)
    errors = Counter(r.error_kind or "unknown" for r in records if r.status == "error")
    judged = [r for r in records if has_thresholds(objective_of(r))]
    good = sum(is_good(r, objective_of(r)) for r in judged) if judged else None
    tokens = sum(r.output_tokens for r in ok)

    def values(attr: str) -> list[float]:
        found = (getattr(r, attr) for r in ok)
        return [v for v in found if v is not None]

    return GroupMetrics(
        name=name,
        counts=Counts(len(records), status["ok"], status["error"], status["incomplete"]),
        errors=dict(sorted(errors.items())),
        window_s=window,
        requests_per_s=_rate(len(ok), window),
        output_tokens_per_s=_rate(tokens, window),
        good=good,
        goodput_rps=None if good is None else _rate(good, window),
        ttft_ms=Distribution.of(values("ttft"), MS),
        itl_ms=Distribution.of(values("itl"), MS),
        chunk_gap_ms=Distribution.of((g for r in ok for g in r.gaps), MS),
        e2e_ms=Distribution.of(values("e2e"), MS),
        input_tokens=Distribution.of(values("input_tokens")),
        output_tokens=Distribution.of(r.output_tokens for r in ok),
    )


def grouped(
    records: Sequence[RequestRecord], key: Callable[[RequestRecord], str | None]
) -> dict[str, list[RequestRecord]]:
    """Records split by `key` (None keys left out), groups in order of first appearance."""
    groups: dict[str, list[RequestRecord]] = {}
    for record in records:
        name = key(record)
        if name is not None:
            groups.setdefault(name, []).append(record)
    return groups


def objective_lookup(objectives: Mapping[str, Slo]) -> Callable[[RequestRecord], Slo | None]:
    """The objective of a record's class (None for unclassed requests)."""
    return lambda record: objectives.get(record.sla) if record.sla else None


# --- did the client keep its schedule? ---
MAX_LAG_MS = 10.0
MAX_LAG_SHARE = 0.05


@dataclass(frozen=True)
class ScheduleCheck:
    """Send lag of the measured requests and whether it stayed under `limit_ms`."""

    lag_ms: Distribution | None
    interarrival_ms: float | None
    limit_ms: float
    kept: bool
    message: str


def check_schedule(
    records: Sequence[RequestRecord],
    *,
    open_loop: bool,
    max_lag_ms: float = MAX_LAG_MS,
    max_lag_share: float = MAX_LAG_SHARE,
) -> ScheduleCheck:
    """Measure the send lag of the measured `records` against the limit."""
    lag = Distribution.of((v for r in records if (v := r.send_lag) is not None), MS)
    scheduled = np.sort([r.scheduled for r in records])
    interarrival = (
        float(np.diff(scheduled).mean() * MS) if open_loop and scheduled.size > 1 else None
    )
    limit = max_lag_ms if interarrival is None else min(max_lag_ms, max_lag_share * interarrival)
    if lag is None:
        return ScheduleCheck(None, interarrival, limit, True, "no request was sent")
    kept = lag.p99 <= limit
    message = (
        f"client kept its schedule: p99 send lag {lag.p99:.2f} ms <= {limit:.2f} ms"
        if kept
        else f"client fell behind its schedule: p99 send lag {lag.p99:.2f} ms > {limit:.2f} ms "
        "(latencies still count from the scheduled time; lower the rate or run the client on "
        "a less busy machine)"
    )
    return ScheduleCheck(lag, interarrival, limit, kept, message)
