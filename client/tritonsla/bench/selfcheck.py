"""Did the client keep its schedule? Send lag = actual send - scheduled send (pure).

A load generator that cannot send on time under-reports latency and over-states the load it
offered. The run is flagged when the p99 send lag exceeds `max_lag_ms` (10 ms), or, in an open
loop, 5% of the mean time between scheduled sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tritonsla.bench.metrics import MS
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.stats import Distribution

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
