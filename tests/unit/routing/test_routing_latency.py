"""Typical latency per model, learned from answers."""

from __future__ import annotations

import pytest

from tritonsla.routing.latency import LatencyTracker


def test_no_estimate_before_any_answer():
    assert LatencyTracker().estimate_ms("m", 16) is None


def test_streamed_answers_teach_ttft_and_time_per_token():
    tracker = LatencyTracker(alpha=0.5)
    tracker.observe_stream("m", ttft_ms=100.0, e2e_ms=400.0, tokens=4)  # 100 ms per token
    assert tracker.estimate_ms("m", 10) == pytest.approx(100 + 9 * 100)

    tracker.observe_stream("m", ttft_ms=200.0, e2e_ms=200.0, tokens=1)  # TTFT only
    assert tracker.estimate_ms("m", 10) == pytest.approx(150 + 9 * 100)
    assert tracker.estimate_ms("other", 10) is None


def test_whole_answers_teach_time_per_token_only():
    tracker = LatencyTracker(alpha=1.0)
    tracker.observe_whole("m", e2e_ms=300.0, tokens=10)
    assert tracker.estimate_ms("m", 20) == pytest.approx(600.0)
    tracker.observe_whole("m", e2e_ms=300.0, tokens=0)  # unknown count: ignored
    assert tracker.estimate_ms("m", 20) == pytest.approx(600.0)


def test_alpha_is_checked():
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\]"):
        LatencyTracker(alpha=0)
