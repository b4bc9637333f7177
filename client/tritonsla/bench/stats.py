"""Distribution summaries: count, mean, std, min, max and percentiles (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

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
