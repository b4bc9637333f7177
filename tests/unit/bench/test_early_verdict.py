"""A probe's failed verdict decided before its end: the rule, and a probe that stops on it."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from benchkit import fake_sender, record

from tritonsla.bench.capacity import CapacitySettings
from tritonsla.bench.capacity_probe import run_probe
from tritonsla.bench.early_verdict import SloMisses, misses_that_decide, planned_per_class
from tritonsla.bench.workload import PromptEntry, PromptFile, TokenLengths, Workload
from tritonsla.profiles.schema import Slo

SLO = {"realtime": Slo(ttft_ms=500, e2e_ms=4000), "batch": None}


def slow(index: int, ttft: float = 0.9, warmup: bool = False, sla: str = "realtime"):
    return record(index, sla=sla, chunks=(ttft, ttft + 0.1), warmup=warmup)


@pytest.mark.parametrize("planned", [3, 20, 60, 120, 121, 500])
@pytest.mark.parametrize("percentile", [50.0, 90.0, 95.0, 99.0])
def test_the_decisive_count_puts_the_percentile_above_for_any_class_size(
    planned: int, percentile: float
) -> None:
    decided = misses_that_decide(planned, percentile)
    for n in range(1, planned + 1):  # any class size up to the planned total
        values = np.zeros(n)
        values[n - min(decided, n) :] = 1.0  # the misses, above a threshold of 0.5
        if decided <= n:
            assert np.percentile(values, percentile) > 0.5
    assert decided <= max(1, math.ceil(planned * (100 - percentile) / 100) + 1)  # not late


def test_misses_decide_only_once_enough_and_only_measured_ones_count() -> None:
    misses = SloMisses(SLO, planned={"realtime": 120, "batch": 40})  # p95 of 120: 7 decide
    assert misses_that_decide(120, 95) == 7
    assert misses.add(slow(0, warmup=True)) is None
    assert misses.add(slow(1, sla="batch")) is None  # a class without objective
    assert misses.add(slow(2, ttft=0.1)) is None  # within the objective
    reasons = [misses.add(slow(i)) for i in range(3, 10)]
    assert reasons[:6] == [None] * 6
    assert reasons[6] is not None and reasons[6].startswith("realtime: 7 requests above the")
    assert "ttft_ms objective of 500 ms" in reasons[6]


def test_each_class_is_decided_by_its_own_planned_count() -> None:
    objectives = {"realtime": Slo(ttft_ms=500), "interactive": Slo(ttft_ms=500)}
    misses = SloMisses(objectives, planned={"realtime": 20, "interactive": 200})
    assert [misses.add(slow(i, sla="interactive")) for i in range(10)] == [None] * 10  # 11 decide
    assert misses.add(slow(10)) is None
    assert "realtime: 2 requests above" in (misses.add(slow(11)) or "")  # 20 - floor(19 * 0.95)


def test_a_class_with_nothing_planned_is_never_decided() -> None:
    misses = SloMisses(SLO, planned={"batch": 10})
    assert [misses.add(slow(i)) for i in range(20)] == [None] * 20


def test_planned_counts_follow_the_workload_request_by_request() -> None:
    entries = tuple(PromptEntry("hi", 1, 4, sla) for sla in ("realtime", "batch", "batch"))
    workload = Workload(PromptFile(Path("inline"), entries), TokenLengths(4))
    assert planned_per_class(workload, 1, 6) == {"batch": 4, "realtime": 2}
    assert planned_per_class(workload, 1, 6) == Counter(
        workload.request(i).sla for i in range(1, 7)
    )


def test_failed_requests_count_as_misses_of_every_objective() -> None:
    misses = SloMisses({"realtime": Slo(e2e_ms=4000)}, planned={"realtime": 20})  # 2 decide
    failed = record(0, status="error", error_kind="ServerRejected")
    assert misses.add(failed) is None
    assert "e2e_ms" in (misses.add(record(1, status="error", error_kind="Timeout")) or "")


def test_a_probe_stops_once_its_verdict_is_decided() -> None:
    prepared = SimpleNamespace(
        workload=Workload(
            PromptFile(Path("inline"), (PromptEntry("hi", 1, 4, "realtime"),)), TokenLengths(4)
        ),
        objectives={"realtime": Slo(e2e_ms=50)},
        servers=(),
        options=SimpleNamespace(seed=0),
    )
    settings = CapacitySettings(probe_seconds=10, min_probe_requests=10, warmup_requests=0)
    probe = asyncio.run(run_probe(20, prepared, fake_sender(0.1), settings))  # type: ignore[arg-type]
    assert probe.stopped_early and not probe.slo_met
    assert probe.reasons[0].startswith("stopped early: realtime: 11 requests above the e2e_ms")
    assert probe.duration_s < 5  # 200 requests planned over 10 s; stopped after ~11 answers
