"""Counter and histogram deltas between scrapes, quantiles, and the sliding window."""

from __future__ import annotations

import math

import pytest
from gatewaykit import FakeGateway, scrape_at

from tritonsla.monitor.scrape import Scrape, labels_of, merge, parse_samples
from tritonsla.monitor.sources import metrics_url
from tritonsla.monitor.window import (
    Buckets,
    ScrapeHistory,
    counter_delta,
    histogram_delta,
    quantile,
)

TTFT = "tritonsla_gateway_ttft_seconds"
REQUESTS = "tritonsla_gateway_requests_total"


def counter(value: float, **labels: str) -> dict:
    return {(REQUESTS, labels_of(labels)): value}


def test_counter_delta_sums_matching_series_and_counts_new_series_from_zero() -> None:
    old = merge(0.0, [counter(5, sla="a", outcome="ok"), counter(1, sla="b", outcome="ok")])
    new = merge(
        2.0,
        [
            counter(8, sla="a", outcome="ok"),
            counter(2, sla="a", outcome="error"),  # appeared in the interval
            counter(4, sla="b", outcome="ok"),
        ],
    )
    assert counter_delta(old, new, REQUESTS, sla="a") == 5
    assert counter_delta(old, new, REQUESTS, sla="a", outcome="error") == 2
    assert counter_delta(old, new, REQUESTS) == 8
    assert counter_delta(old, new, "absent_total") is None


def test_a_counter_that_went_down_was_reset_and_counts_from_zero() -> None:
    old = merge(0.0, [counter(100, sla="a")])
    new = merge(1.0, [counter(7, sla="a")])
    assert counter_delta(old, new, REQUESTS, sla="a") == 7


def test_histogram_quantiles_interpolate_inside_buckets_like_prometheus() -> None:
    gateway = FakeGateway()
    old = scrape_at(0.0, gateway.text())
    for _ in range(10):
        gateway.request("a", ttft=0.005)  # bucket (0, 0.01]
        gateway.request("a", ttft=0.02)  # bucket (0.01, 0.025]
    gateway.request("b", ttft=4.0)
    new = scrape_at(10.0, gateway.text())

    buckets = histogram_delta(old, new, TTFT, sla="a")
    assert buckets is not None and buckets.count == 20
    assert buckets.sum == pytest.approx(10 * 0.005 + 10 * 0.02)
    assert quantile(buckets, 0.5) == pytest.approx(0.01)  # rank 10 ends the first bucket
    assert quantile(buckets, 0.95) == pytest.approx(0.01 + 0.015 * 9 / 10)
    both = histogram_delta(old, new, TTFT)
    assert both is not None and both.count == 21
    assert quantile(both, 1.0) == pytest.approx(2.5 + 2.5 * 1.0)  # in (2.5, 5]


def test_quantile_counts_failures_as_infinite_and_beyond_the_buckets_as_infinite() -> None:
    buckets = Buckets((0.1, 1.0, math.inf), (8.0, 9.0, 10.0), 3.0)
    assert quantile(buckets, 0.5) == pytest.approx(0.1 * 5 / 8)
    assert quantile(buckets, 0.95) == math.inf  # the tenth observation is above 1.0
    assert quantile(buckets, 0.4, failed=10) == pytest.approx(0.1)  # rank 8 of 20
    assert quantile(buckets, 0.95, failed=10) == math.inf
    assert quantile(None, 0.5, failed=2) == math.inf
    assert quantile(None, 0.5) is None
    assert quantile(Buckets((1.0, math.inf), (0.0, 0.0), 0.0), 0.5) is None


def test_a_restarted_histogram_counts_from_zero() -> None:
    before = FakeGateway()
    for _ in range(50):
        before.request("a", ttft=0.4)
    after = FakeGateway()  # the gateway restarted: fresh counters
    for _ in range(4):
        after.request("a", ttft=0.007)
    buckets = histogram_delta(scrape_at(0, before.text()), scrape_at(5, after.text()), TTFT)
    assert buckets is not None and buckets.count == 4
    assert quantile(buckets, 0.5) == pytest.approx(0.005)


def test_history_keeps_the_newest_scrape_at_least_a_window_old_as_baseline() -> None:
    history = ScrapeHistory(window_s=3.0)
    assert history.baseline is None and history.latest is None
    for at in range(6):
        history.add(Scrape(float(at)))
        if at == 0:
            assert history.baseline is None
    assert history.latest is not None and history.latest.at == 5.0
    assert history.baseline is not None and history.baseline.at == 2.0


def test_parse_samples_refuses_text_that_is_not_prometheus() -> None:
    with pytest.raises(ValueError):
        parse_samples("this is { not metrics\n")


def test_metrics_urls_from_base_urls() -> None:
    assert metrics_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000/metrics"
    assert metrics_url("http://127.0.0.1:9000/v1/") == "http://127.0.0.1:9000/metrics"
    assert metrics_url("http://h:8002/metrics") == "http://h:8002/metrics"
    assert metrics_url("http://h:8002/custom/path") == "http://h:8002/custom/path"
