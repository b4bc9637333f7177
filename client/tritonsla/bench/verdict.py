"""SLO verdicts per class (pure).

Each threshold of a class objective is checked at the objective's percentile over every
measured request of the class. Failed and incomplete requests enter as +inf: a class that
rejects more than (100 - percentile)% of its requests cannot pass by measuring only the rest.
`min_output_tokens_per_s` is checked against the class's output tokens/s over the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tritonsla.bench.metrics import THRESHOLDS, GroupMetrics, percentile, record_value_ms
from tritonsla.bench.records import RequestRecord
from tritonsla.profiles.schema import Slo


@dataclass(frozen=True)
class Check:
    """One objective term: `measured` compared with `threshold` (<= for latency, >= for rate).

    `measured` is None when nothing could be measured, +inf when failures decide the percentile.
    """

    metric: str
    percentile: float | None
    measured: float | None
    threshold: float
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """Whether a class met its objective; `passed` is None when it has none."""

    sla: str
    passed: bool | None
    checks: tuple[Check, ...]


def _latency_check(key: str, slo: Slo, records: Sequence[RequestRecord], limit: float) -> Check:
    failed = sum(not r.ok for r in records)
    values = [math.inf] * failed
    values += [v for r in records if r.ok and (v := record_value_ms(r, key)) is not None]
    measured = percentile(values, slo.percentile)
    note = f"{failed} of {len(records)} requests failed (counted as +inf)" if failed else ""
    if measured is None:
        note = "no request measured it"
    passed = measured is not None and measured <= limit
    return Check(key, slo.percentile, measured, limit, passed, note)


def class_verdict(
    sla: str, slo: Slo | None, records: Sequence[RequestRecord], metrics: GroupMetrics
) -> Verdict:
    """The verdict of class `sla` over its measured `records` and their `metrics`."""
    if slo is None:
        return Verdict(sla, None, ())
    checks = [
        _latency_check(key, slo, records, limit)
        for key in THRESHOLDS
        if (limit := getattr(slo, key)) is not None
    ]
    if slo.min_output_tokens_per_s is not None:
        rate = metrics.output_tokens_per_s
        checks.append(
            Check(
                "output_tokens_per_s",
                None,
                rate,
                slo.min_output_tokens_per_s,
                rate is not None and rate >= slo.min_output_tokens_per_s,
                "" if rate is not None else "no request completed",
            )
        )
    if not checks:
        return Verdict(sla, None, ())
    return Verdict(sla, all(check.passed for check in checks), tuple(checks))
