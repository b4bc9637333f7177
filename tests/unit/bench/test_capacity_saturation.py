"""Saturation criteria of a probe: served rate, drift, and the probe's verdict (records by hand)."""

from __future__ import annotations

import pytest
from benchkit import record

from tritonsla.bench.capacity import CapacitySettings
from tritonsla.bench.records import RequestRecord, RunResult
from tritonsla.bench.saturation import drift, judge, judged_metrics, offered_rate, served_rate
from tritonsla.bench.schedule import Poisson
from tritonsla.bench.summary import summarize
from tritonsla.profiles.schema import Slo

REALTIME = Slo(ttft_ms=500, itl_ms=150)
OBJECTIVES = {"realtime": REALTIME, "batch": Slo(e2e_ms=20_000)}
SETTINGS = CapacitySettings()


def answered(index: int, at: float, ttft: float, e2e: float, sla: str = "realtime", n: int = 4):
    """A streamed answer of `n` tokens: first token `ttft` s after `at`, last `e2e` s after it."""
    step = (e2e - ttft) / (n - 1)
    chunks = tuple(at + ttft + step * i for i in range(n))
    return record(index, sla=sla, scheduled=at, chunks=chunks)


def steady(rate: float = 4.0, seconds: float = 15.0, ttft: float = 0.05, e2e: float = 0.2):
    count = int(rate * seconds)
    return [answered(i, i / rate, ttft, e2e) for i in range(count)]


def behind(rate: float, service_rps: float, seconds: float = 15.0) -> list[RequestRecord]:
    """One request at a time at `service_rps` while `rate` arrive: the queue grows."""
    records, free = [], 0.0
    for i in range(int(rate * seconds)):
        at = i / rate
        start = max(at, free)
        free = start + 1 / service_rps
        records.append(answered(i, at, start - at + 0.02, free - at))
    return records


def run_of(records: list[RequestRecord], rate: float = 4.0) -> RunResult:
    strategy = Poisson(rate)
    return RunResult(strategy.name, summarize(strategy, records, OBJECTIVES), tuple(records))


def test_offered_rate_is_that_of_the_drawn_schedule() -> None:
    assert offered_rate(steady(4.0)) == pytest.approx(4.0)
    assert offered_rate([record(0)]) is None


def test_a_server_that_keeps_up_serves_what_is_offered_and_meets_the_slo() -> None:
    probe = judge(4.0, run_of(steady()), OBJECTIVES, SETTINGS, duration_s=15.2)
    assert probe.served_rps == pytest.approx(probe.offered_rps)
    assert probe.sustained and probe.slo_met and not probe.below_floor
    assert probe.reasons == ()
    assert probe.verdicts == {"realtime": True}
    assert probe.p95_ms["realtime"]["ttft_ms"] == pytest.approx(50)
    assert probe.goodput_rps == pytest.approx(probe.served_rps)
    assert probe.duration_s == 15.2
    assert {(d.sla, d.metric, d.drifted) for d in probe.drift} == {
        ("realtime", "ttft_ms", False),
        ("realtime", "itl_ms", False),
    }


def test_long_answers_of_a_mixed_workload_are_not_called_unsustained() -> None:
    records = [
        answered(i, i / 4, 0.05, 3.0 if i % 2 else 0.2, sla="batch" if i % 2 else "realtime")
        for i in range(60)
    ]
    served = served_rate(records, offered_rate(records))
    assert served == pytest.approx(4.0)


def test_a_server_that_falls_behind_is_not_sustained_and_drifts() -> None:
    probe = judge(4.0, run_of(behind(4.0, 3.0)), OBJECTIVES, SETTINGS, duration_s=20)
    assert probe.offered_rps == pytest.approx(4.0)
    assert probe.served_rps < 0.95 * 4.0
    assert not probe.sustained and not probe.slo_met and not probe.below_floor
    assert any(d.drifted for d in probe.drift)
    assert any(r.startswith("not sustained: served") for r in probe.reasons)
    assert any("rose from" in r for r in probe.reasons)


def test_slightly_over_capacity_is_caught_by_drift_even_if_served_looks_close() -> None:
    probe = judge(4.0, run_of(behind(4.0, 3.8)), OBJECTIVES, SETTINGS, duration_s=16)
    assert not probe.slo_met
    assert any(d.drifted for d in probe.drift)


def test_flat_but_noisy_low_latency_is_not_drift() -> None:
    records = [answered(i, i / 4, 0.010 if i < 20 else 0.040, 0.2) for i in range(60)]
    (ttft, _) = drift(records, OBJECTIVES, ratio=1.5, floor_ms=50)
    assert ttft.metric == "ttft_ms" and ttft.drifted is False
    assert ttft.first_p95_ms == pytest.approx(10) and ttft.last_p95_ms == pytest.approx(40)
    assert ttft.limit_ms == pytest.approx(65)


def test_latency_that_doubles_is_drift() -> None:
    records = [answered(i, i / 4, 0.2 if i < 30 else 0.5, 0.6) for i in range(60)]
    assert drift(records, OBJECTIVES, ratio=1.5, floor_ms=50)[0].drifted is True


def test_failures_late_in_the_run_are_drift() -> None:
    records = steady()
    records[-5:] = [record(i, status="error", scheduled=i / 4) for i in range(55, 60)]
    (ttft, _) = drift(records, OBJECTIVES, ratio=1.5, floor_ms=50)
    assert ttft.last_p95_ms == float("inf") and ttft.drifted is True


def test_too_few_requests_of_a_class_are_not_judged() -> None:
    records = [*steady(), answered(100, 1.0, 0.1, 9.0, sla="batch")]
    batch = [d for d in drift(records, OBJECTIVES, ratio=1.5, floor_ms=50) if d.sla == "batch"]
    assert [(d.metric, d.drifted, d.limit_ms) for d in batch] == [("e2e_ms", None, None)]


def test_judged_metrics_follow_the_slo() -> None:
    assert judged_metrics(REALTIME) == ("ttft_ms", "itl_ms")
    assert judged_metrics(Slo(min_output_tokens_per_s=5)) == ("e2e_ms",)
    assert judged_metrics(None) == ("e2e_ms",)


def test_only_a_missed_throughput_floor_means_the_load_was_too_low() -> None:
    objectives = {"realtime": Slo(ttft_ms=500, min_output_tokens_per_s=1000)}
    strategy = Poisson(4.0)
    records = steady()
    run = RunResult(strategy.name, summarize(strategy, records, objectives), tuple(records))
    probe = judge(4.0, run, objectives, SETTINGS, duration_s=15)
    assert not probe.slo_met and probe.below_floor
    assert probe.reasons == (
        "realtime: output 16.1 tokens/s is below its floor of 1,000.0 tokens/s",
    )


def test_latency_misses_fail_and_are_said_in_words() -> None:
    records = steady(ttft=0.6, e2e=0.7)
    probe = judge(4.0, run_of(records), OBJECTIVES, SETTINGS, duration_s=15)
    assert not probe.slo_met and not probe.below_floor and probe.sustained
    assert "realtime: ttft_ms p95 600 ms is above 500 ms" in probe.reasons
    assert probe.goodput_rps == 0


def test_a_stopped_probe_fails_with_the_reason_first() -> None:
    probe = judge(
        4.0, run_of(steady()), OBJECTIVES, SETTINGS, duration_s=3, stopped="stopped early"
    )
    assert probe.stopped_early and not probe.slo_met and not probe.below_floor
    assert probe.reasons == ("stopped early",)


def test_a_stopped_probe_names_its_cancelled_requests_not_the_figures_they_spoil() -> None:
    records = steady()
    records[-10:] = [record(50 + i, status="incomplete", scheduled=12.5 + i / 4) for i in range(10)]
    probe = judge(4.0, run_of(records), OBJECTIVES, SETTINGS, duration_s=3, stopped="stopped")
    assert not probe.sustained and not probe.slo_met
    assert probe.reasons == (
        "stopped",
        "10 requests still in flight were cancelled (failed in this probe's figures)",
    )


def test_failed_requests_are_not_served() -> None:
    records = steady()
    records[::4] = [record(i * 4, status="error", scheduled=i) for i in range(15)]
    probe = judge(4.0, run_of(records), OBJECTIVES, SETTINGS, duration_s=15)
    assert probe.served_rps == pytest.approx(0.75 * probe.offered_rps)
    assert not probe.sustained and not probe.slo_met


def test_nothing_measured_is_not_sustained() -> None:
    probe = judge(4.0, run_of([record(0, warmup=True)]), OBJECTIVES, SETTINGS, duration_s=1)
    assert not probe.slo_met and probe.offered_rps is None
    assert "too few measured requests" in probe.reasons[0]


def test_drift_floor_is_the_larger_of_the_absolute_floor_and_a_share_of_the_slo():
    from tritonsla.bench.saturation import drift_floor_ms

    assert drift_floor_ms(Slo(e2e_ms=120_000), "e2e_ms", 50.0, 0.1) == 12_000
    assert drift_floor_ms(Slo(ttft_ms=200), "ttft_ms", 50.0, 0.1) == 50.0
    assert drift_floor_ms(Slo(ttft_ms=200), "e2e_ms", 50.0, 0.1) == 50.0  # no such threshold
    assert drift_floor_ms(None, "e2e_ms", 50.0, 0.1) == 50.0
