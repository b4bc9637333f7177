"""A probe's failed SLO verdict, known before the probe ends (pure).

A class's latency objective is checked at a percentile over its measured requests, failed ones
counting as +inf (`verdict`). Once enough of them are above the threshold, no later answer can
bring the percentile back under it: the verdict is decided, and a capacity probe can stop there
instead of running out its schedule. A workload's request i is the same request in every run
(`Workload.request`), so each class's measured count is known before the probe starts
(`planned_per_class`): with n requests, the p-th percentile (linear, numpy's) reads ranks
floor((n - 1) p / 100) and up, so it is above the threshold once more than
n - 1 - floor((n - 1) p / 100) values are.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from tritonsla.bench.metrics import THRESHOLDS, record_value_ms
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.workload import Workload
from tritonsla.profiles.schema import Slo


def misses_that_decide(planned: int, percentile: float) -> int:
    """Values above a threshold that surely put the `percentile` of `planned` values above it
    (with interpolation, one fewer sometimes does too)."""
    return planned - math.floor((planned - 1) * percentile / 100)


def planned_per_class(workload: Workload, first: int, count: int) -> Counter[str]:
    """Requests per class among the workload's requests `first` .. `first + count - 1`."""
    return Counter(workload.request(index).sla or "" for index in range(first, first + count))


class SloMisses:
    """Counts measured requests above each class's latency thresholds, as they complete.

    `planned` is each class's count of measured requests in the run (`planned_per_class`).
    """

    def __init__(self, objectives: Mapping[str, Slo | None], planned: Mapping[str, int]) -> None:
        self._objectives = objectives
        self._planned = planned
        self._misses: Counter[tuple[str, str]] = Counter()

    def add(self, record: RequestRecord) -> str | None:
        """Count `record`; the reason, in words, once some class can no longer pass."""
        slo = self._objectives.get(record.sla or "")
        planned = self._planned.get(record.sla or "", 0)
        if record.warmup or slo is None or planned == 0:
            return None
        decided = misses_that_decide(planned, slo.percentile)
        for key in THRESHOLDS:
            limit = getattr(slo, key)
            if limit is None:
                continue
            value = record_value_ms(record, key) if record.ok else math.inf
            if value is None or value <= limit:
                continue
            self._misses[(record.sla or "", key)] += 1
            if self._misses[(record.sla or "", key)] >= decided:
                return (
                    f"{record.sla}: {decided} requests above the {key} objective of "
                    f"{limit:g} ms: its p{slo.percentile:g} over its {planned} requests "
                    "cannot meet it"
                )
        return None
