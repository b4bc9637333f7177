"""Metric math, goodput, verdicts and the self-check against values computed by hand."""

from __future__ import annotations

import math

import pytest
from benchkit import record

from tritonsla.bench.metrics import Distribution, check_schedule, is_good, percentile
from tritonsla.bench.objectives import parse_goodput, with_overrides
from tritonsla.bench.schedule import Concurrent, Constant
from tritonsla.bench.summary import summarize
from tritonsla.errors import ConfigError
from tritonsla.profiles.schema import Slo

BLS = "realtime_tensorrt_llm_bls"

# Four measured realtime requests and one warm-up (times in seconds):
#   r0: due 0.0, chunks 0.1 0.2 0.3, 3 tokens -> TTFT 100, E2E 300, ITL (300-100)/2 = 100 ms
#   r1: due 1.0, chunks 1.2 1.5,     2 tokens -> TTFT 200, E2E 500, ITL 300 ms
#   r2: due 2.0, chunk 2.05,         1 token  -> TTFT 50,  E2E 50,  ITL undefined
#   r3: due 1.5, rejected
# Window: first due 0.0 to last answer 2.05 s.
RECORDS = [
    record(0, scheduled=0.0, chunks=(0.1, 0.2, 0.3)),
    record(1, scheduled=1.0, chunks=(1.2, 1.5)),
    record(2, scheduled=2.0, chunks=(2.05,), endpoint="realtime_ensemble"),
    record(3, scheduled=1.5, status="error", error_kind="ServerRejected"),
    record(4, scheduled=-5.0, chunks=(9.0,), warmup=True),
]
WINDOW = 2.05


def summary(slo: Slo):
    return summarize(Concurrent(2), RECORDS, {"realtime": slo})


def test_distribution_by_hand() -> None:
    dist = Distribution.of([0.1, 0.2, 0.05], scale=1000)
    assert dist is not None
    assert dist.count == 3
    assert (dist.min, dist.p50, dist.max) == pytest.approx((50, 100, 200))
    assert dist.mean == pytest.approx(350 / 3)
    assert dist.p90 == pytest.approx(180)  # rank 1.8: 100 + 0.8 * 100
    assert dist.std == pytest.approx(math.sqrt(((50 - 350 / 3) ** 2 + (100 - 350 / 3) ** 2
                                                + (200 - 350 / 3) ** 2) / 3))  # fmt: skip
    assert Distribution.of([]) is None


def test_percentile_with_failures_as_infinity() -> None:
    assert percentile([50, 100, 200, math.inf], 50) == pytest.approx(150)
    assert percentile([50, 100, 200, math.inf], 95) == math.inf
    assert percentile([math.inf], 50) == math.inf
    assert percentile([], 50) is None


def test_group_metrics_by_hand() -> None:
    overall = summary(Slo()).overall
    assert overall.counts.total == 4  # warm-up left out
    assert (overall.counts.ok, overall.counts.error, overall.counts.incomplete) == (3, 1, 0)
    assert overall.errors == {"ServerRejected": 1}
    assert overall.window_s == pytest.approx(WINDOW)
    assert overall.requests_per_s == pytest.approx(3 / WINDOW)
    assert overall.output_tokens_per_s == pytest.approx(6 / WINDOW)
    assert overall.ttft_ms.p50 == pytest.approx(100)
    assert overall.e2e_ms.mean == pytest.approx((300 + 500 + 50) / 3)
    assert overall.itl_ms.count == 2
    assert overall.itl_ms.mean == pytest.approx(200)
    assert overall.chunk_gap_ms.count == 3
    assert overall.chunk_gap_ms.max == pytest.approx(300)
    assert overall.output_tokens.mean == pytest.approx(2)


def test_groups_per_class_and_endpoint_share_the_window() -> None:
    result = summary(Slo())
    assert list(result.classes) == ["realtime"]
    assert set(result.endpoints) == {BLS, "realtime_ensemble"}
    ensemble = result.endpoints["realtime_ensemble"]
    assert ensemble.counts.ok == 1
    assert ensemble.window_s == pytest.approx(WINDOW)
    assert ensemble.requests_per_s == pytest.approx(1 / WINDOW)
    bls = result.endpoints[BLS]  # the rejection came from the BLS endpoint's queue
    assert (bls.counts.total, bls.counts.ok, bls.counts.error) == (3, 2, 1)


def test_goodput_counts_requests_meeting_every_threshold() -> None:
    slo = Slo(ttft_ms=150, itl_ms=150)
    # r0 good; r1 TTFT 200 too slow; r2 good (one token: no ITL to miss); r3 failed
    assert [is_good(r, slo) for r in RECORDS[:4]] == [True, False, True, False]
    overall = summary(slo).overall
    assert overall.good == 2
    assert overall.goodput_rps == pytest.approx(2 / WINDOW)


def test_goodput_is_none_without_thresholds() -> None:
    overall = summary(Slo(min_output_tokens_per_s=1.0)).overall
    assert overall.good is None
    assert overall.goodput_rps is None


def test_verdict_counts_failures_as_infinitely_slow() -> None:
    # TTFT p50 over [50, 100, 200, inf] = 150 <= 150; ITL p50 over [100, 300, inf] = 300 > 150
    verdict = summary(Slo(percentile=50, ttft_ms=150, itl_ms=150)).verdicts["realtime"]
    assert verdict.passed is False
    ttft, itl = verdict.checks
    assert (ttft.metric, ttft.measured, ttft.passed) == ("ttft_ms", pytest.approx(150), True)
    assert ttft.note == "1 of 4 requests failed (counted as +inf)"
    assert (itl.metric, itl.measured, itl.passed) == ("itl_ms", pytest.approx(300), False)


def test_verdict_at_p95_is_decided_by_the_failure() -> None:
    verdict = summary(Slo(percentile=95, e2e_ms=10_000)).verdicts["realtime"]
    (check,) = verdict.checks
    assert check.measured == math.inf
    assert verdict.passed is False


def test_verdict_passes_and_checks_tokens_per_second() -> None:
    ok = [r for r in RECORDS if r.ok]
    slo = Slo(percentile=90, e2e_ms=500, min_output_tokens_per_s=2.0)
    result = summarize(Concurrent(1), ok, {"realtime": slo})
    verdict = result.verdicts["realtime"]
    assert verdict.passed is True
    assert verdict.checks[1].metric == "output_tokens_per_s"
    assert verdict.checks[1].measured == pytest.approx(6 / WINDOW)
    assert result.passed is True
    slower = summarize(Concurrent(1), ok, {"realtime": Slo(min_output_tokens_per_s=3.0)})
    assert slower.verdicts["realtime"].passed is False


def test_a_class_without_objective_has_no_verdict() -> None:
    result = summarize(Concurrent(1), RECORDS, {})
    assert result.verdicts["realtime"].passed is None
    assert result.passed is None


def test_goodput_overrides() -> None:
    overrides = parse_goodput(
        ["ttft_ms=300", "realtime.itl_ms=20,e2e_ms=900"], ["realtime", "batch"]
    )
    assert overrides == {None: {"ttft_ms": 300.0, "e2e_ms": 900.0}, "realtime": {"itl_ms": 20.0}}
    objectives = with_overrides({"realtime": Slo(ttft_ms=100), "batch": Slo()}, overrides)
    assert objectives["realtime"] == Slo(ttft_ms=300, itl_ms=20, e2e_ms=900)
    assert objectives["batch"] == Slo(ttft_ms=300, e2e_ms=900)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("ttft=300", "KEY one of ttft_ms, itl_ms, e2e_ms"),
        ("ttft_ms=-1", "MS > 0"),
        ("turbo.ttft_ms=3", "unknown SLA class 'turbo'.*available: realtime"),
    ],
)
def test_bad_goodput_overrides(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_goodput([spec], ["realtime"])


def test_self_check_flags_a_client_that_fell_behind() -> None:
    on_time = [record(i, scheduled=i * 0.1, sent=i * 0.1 + 0.001, chunks=(i * 0.1 + 0.05,))
               for i in range(20)]  # fmt: skip
    check = check_schedule(on_time, open_loop=True)
    assert check.kept
    assert check.interarrival_ms == pytest.approx(100)
    assert check.limit_ms == pytest.approx(5)  # 5% of 100 ms is below 10 ms
    late = [record(i, scheduled=i * 0.1, sent=i * 0.1 + 0.02 * i, chunks=(i * 0.1 + 1,))
            for i in range(20)]  # fmt: skip
    check = check_schedule(late, open_loop=True)
    assert not check.kept
    assert "fell behind" in check.message


def test_self_check_of_a_closed_loop_uses_the_fixed_limit() -> None:
    records = [record(i, scheduled=0.0, sent=0.008, chunks=(0.1,)) for i in range(10)]
    check = check_schedule(records, open_loop=False)
    assert (check.interarrival_ms, check.limit_ms, check.kept) == (None, 10.0, True)
    summary_check = summarize(Constant(10.0), records, {}).schedule
    assert summary_check.interarrival_ms == 0.0
    assert not summary_check.kept
