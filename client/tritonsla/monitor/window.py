"""What happened between two scrapes: counter deltas, histogram deltas and quantiles (pure).

Counters and histograms are cumulative, so the interval between an older and a newer scrape
is their difference, series by series. A series whose value went down was reset (its process
restarted): it counts from zero, as Prometheus's `rate()` treats a reset. A series missing from
the older scrape appeared during the interval and counts from zero too.

Quantiles follow Prometheus's `histogram_quantile`: find the bucket holding the rank and
interpolate linearly inside it. `failed` requests, which never produced an observation, can
enter as +inf (the benchmark's verdict rule): a rank beyond the observations is +inf.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from tritonsla.monitor.scrape import Labels, Scrape


def _series(scrape: Scrape, name: str, match: dict[str, str]) -> dict[Labels, float]:
    return {tuple(sorted(labels.items())): value for labels, value in scrape.select(name, **match)}


def counter_delta(old: Scrape, new: Scrape, name: str, **match: str) -> float | None:
    """Increase of the matching `name` series (summed) from `old` to `new`; None when absent."""
    now = _series(new, name, match)
    if not now:
        return None
    before = _series(old, name, match)
    total = 0.0
    for labels, value in now.items():
        previous = before.get(labels, 0.0)
        total += value if value < previous else value - previous
    return total


@dataclass(frozen=True)
class Buckets:
    """A histogram over an interval: cumulative counts per upper bound (ascending, +inf last)."""

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float

    @property
    def count(self) -> float:
        return self.cumulative[-1] if self.cumulative else 0.0


def _buckets(scrape: Scrape, name: str, match: dict[str, str]) -> dict[Labels, dict[float, float]]:
    """Cumulative counts per upper bound of every matching series (labels without `le`)."""
    groups: dict[Labels, dict[float, float]] = {}
    for labels, value in scrape.select(f"{name}_bucket", **match):
        bound = float(labels.pop("le"))
        groups.setdefault(tuple(sorted(labels.items())), {})[bound] = value
    return groups


def histogram_delta(old: Scrape, new: Scrape, name: str, **match: str) -> Buckets | None:
    """The `name` histogram (base name, without `_bucket`) between the scrapes, matching series
    summed; a series whose count went down counts from zero. None when it has no buckets."""
    now = _buckets(new, name, match)
    if not now:
        return None
    before = _buckets(old, name, match)
    totals: dict[float, float] = {}
    sums = 0.0
    for labels, buckets in now.items():
        series = dict(labels)
        previous = before.get(labels, {})
        sum_now = new.total(f"{name}_sum", **series) or 0.0
        if max(buckets.values()) < max(previous.values(), default=0.0):
            previous = {}
        else:
            sum_now -= old.total(f"{name}_sum", **series) or 0.0
        sums += sum_now
        for bound, value in buckets.items():
            totals[bound] = totals.get(bound, 0.0) + value - previous.get(bound, 0.0)
    bounds = tuple(sorted(totals))
    return Buckets(bounds, tuple(totals[b] for b in bounds), sums)


def quantile(buckets: Buckets | None, q: float, failed: float = 0.0) -> float | None:
    """The `q` quantile (0..1) of the observations, with `failed` more at +inf.

    None without observations (and failures); +inf when the rank falls beyond the finite
    buckets or among the failures. Inside a bucket the value is interpolated linearly from its
    lower bound (0 for the first bucket), as Prometheus's histogram_quantile does.
    """
    observed = 0.0 if buckets is None else buckets.count
    total = observed + failed
    if total <= 0:
        return None
    rank = q * total
    if buckets is None or rank > observed:
        return math.inf
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(buckets.bounds, buckets.cumulative, strict=True):
        if cumulative >= rank and cumulative > below:
            if math.isinf(bound):
                return math.inf
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return math.inf


class ScrapeHistory:
    """The scrapes of a sliding window: the newest, and the newest one at least `window_s`
    older (the baseline), with those in between; older ones are dropped."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._scrapes: deque[Scrape] = deque()

    def add(self, scrape: Scrape) -> None:
        """Append a newer scrape and drop the ones the window no longer needs."""
        self._scrapes.append(scrape)
        edge = scrape.at - self.window_s
        while len(self._scrapes) > 1 and self._scrapes[1].at <= edge:
            self._scrapes.popleft()

    @property
    def latest(self) -> Scrape | None:
        return self._scrapes[-1] if self._scrapes else None

    @property
    def baseline(self) -> Scrape | None:
        """The scrape the window starts from (the oldest kept); None before two scrapes."""
        return self._scrapes[0] if len(self._scrapes) > 1 else None
