"""Per-class views: rates, percentiles against the SLO, verdicts, queues; JSON and screen."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from gatewaykit import FakeGateway, scrape_at, triton_text
from rich.console import Console

from tritonsla.monitor.live import Watch, snapshot, views
from tritonsla.monitor.scrape import Scrape
from tritonsla.monitor.screen import monitor_screen
from tritonsla.monitor.view import ClassSpec, Source, class_specs, monitor_view, view_to_json
from tritonsla.profiles.loading import load_deployment
from tritonsla.profiles.schema import Slo

ROOT = Path(__file__).resolve().parents[3]
REALTIME = ClassSpec(
    "realtime",
    Slo(ttft_ms=200, itl_ms=30),
    ("realtime_preprocessing", "realtime_tensorrt_llm", "realtime_tensorrt_llm_bls"),
    "realtime_tensorrt_llm",
)
BATCH = ClassSpec(
    "batch",
    Slo(e2e_ms=60_000, min_output_tokens_per_s=50),
    ("batch_tensorrt_llm", "batch_tensorrt_llm_bls"),
    "batch_tensorrt_llm",
)
IDLE = ClassSpec("interactive", Slo(e2e_ms=2000), ("interactive_tensorrt_llm",), None)
PLAIN = ClassSpec("general", Slo(), ("general_tensorrt_llm",), None)
SPECS = (REALTIME, IDLE, BATCH, PLAIN)


def two_scrapes() -> tuple[Scrape, Scrape]:
    """10 s of traffic: realtime 19 fast + 1 slow + 2 rejected, batch 5 long answers."""
    gateway = FakeGateway()
    gateway.request("realtime", ttft=0.1, e2e=1.0)  # before the window: not counted
    old = scrape_at(100.0, gateway.text())
    for _ in range(19):
        gateway.request("realtime", ttft=0.04, itl=0.02, e2e=0.3, tokens=8)
    gateway.request("realtime", ttft=0.9, itl=0.02, e2e=1.2, tokens=8, slo="missed")
    for _ in range(2):
        gateway.request("realtime", outcome="rejected", slo="missed")
    gateway.request("realtime", outcome="cancelled", slo="none")
    for _ in range(5):
        gateway.request("batch", ttft=2.0, itl=0.05, e2e=8.0, tokens=120, slo="met")
    gateway.in_flight.labels("realtime").set(3)
    triton = triton_text(
        {"realtime_tensorrt_llm_bls": 2, "realtime_tensorrt_llm": 1, "batch_tensorrt_llm": 0},
        {"realtime_tensorrt_llm": (4, 2), "batch_tensorrt_llm": (0, 5)},
    )
    new = scrape_at(110.0, gateway.text(), triton)
    return old, new


def test_rates_percentiles_and_failures_of_a_class() -> None:
    old, new = two_scrapes()
    view = monitor_view("demo", SPECS, old, new)
    assert view.window_s == 10.0
    realtime = view.classes[0]
    assert realtime.outcomes == {"cancelled": 1, "ok": 20, "rejected": 2}
    assert (realtime.finished, realtime.failed) == (23, 2)
    assert (realtime.slo_met, realtime.slo_missed) == (19, 3)
    assert realtime.requests_per_s == pytest.approx(2.3)
    assert realtime.output_tokens_per_s == pytest.approx(16.0)
    ttft = realtime.latencies["ttft_ms"]
    assert ttft.p50 == pytest.approx(25 + 25 * (10 - 0) / 19)  # 19 in (25, 50] ms
    # p95 over 20 answers and 2 rejections (+inf): rank 20.9 of 22 lies among the rejections
    assert ttft.check is not None and ttft.check.measured == math.inf
    assert ttft.check.passed is False and realtime.verdict == "fail"
    itl = realtime.latencies["itl_ms"]
    assert itl.p95 is not None and itl.p95 <= 25
    assert realtime.in_flight == 3
    assert realtime.queued == 3  # BLS 2 + engine 1 in Triton's queues
    assert (realtime.engine_waiting, realtime.engine_active) == (4, 2)


def test_throughput_objectives_idle_classes_and_classes_without_objective() -> None:
    old, new = two_scrapes()
    realtime, interactive, batch, general = monitor_view("demo", SPECS, old, new).classes
    assert batch.output_tokens_per_s == pytest.approx(60.0)
    assert batch.throughput_check is not None and batch.throughput_check.passed is True
    e2e = batch.latencies["e2e_ms"].check
    assert e2e is not None and e2e.passed is True and batch.verdict == "pass"
    assert interactive.verdict == "idle" and interactive.finished == 0
    assert interactive.latencies["e2e_ms"].check is not None
    assert interactive.latencies["e2e_ms"].check.passed is None
    assert general.verdict == "no objective"
    assert general.in_flight is None and general.queued is None  # no such series
    assert realtime.engine_shared is False


def test_before_a_second_scrape_there_are_gauges_but_no_rates() -> None:
    _, new = two_scrapes()
    view = monitor_view("demo", SPECS, None, new)
    realtime = view.classes[0]
    assert view.window_s is None
    assert realtime.requests_per_s is None and realtime.output_tokens_per_s is None
    assert realtime.latencies["ttft_ms"].p95 is None and realtime.verdict == "idle"
    assert realtime.in_flight == 3


def test_without_the_gateway_rates_are_unknown_not_zero() -> None:
    triton = triton_text({"realtime_tensorrt_llm": 2}, {"realtime_tensorrt_llm": (1, 1)})
    view = monitor_view("demo", (REALTIME,), scrape_at(0, triton), scrape_at(5, triton))
    realtime = view.classes[0]
    assert realtime.requests_per_s is None and realtime.output_tokens_per_s is None
    assert realtime.queued == 2 and realtime.verdict == "idle"


def test_class_specs_of_the_shipped_deployments() -> None:
    dedicated = class_specs(load_deployment(ROOT / "deploy" / "cpu.yaml"))
    assert [s.name for s in dedicated] == ["realtime", "interactive", "batch"]
    realtime = dedicated[0]
    assert realtime.engine == "realtime_tensorrt_llm" and not realtime.engine_shared
    assert "realtime_tensorrt_llm_bls" in realtime.models
    assert "realtime_tensorrt_llm" in realtime.models
    assert realtime.slo.ttft_ms == 500  # deploy/cpu.yaml's override
    shared = class_specs(load_deployment(ROOT / "deploy" / "cpu-shared.yaml"))
    assert {s.engine for s in shared} == {"tensorrt_llm"}
    assert all(s.engine_shared and "tensorrt_llm" not in s.models for s in shared)


def test_json_snapshot_is_strict_json_with_inf_spelled_as_prometheus_does() -> None:
    old, new = two_scrapes()
    sources = (Source("gateway", "http://g/metrics"), Source("triton", "http://t", "refused"))
    document = view_to_json(monitor_view("demo", SPECS, old, new, sources))
    text = json.dumps(document, allow_nan=False)
    realtime = json.loads(text)["classes"]["realtime"]
    assert realtime["ttft_ms"]["slo"] == {
        "percentile": 95.0,
        "threshold": 200.0,
        "measured": "+Inf",
        "passed": False,
    }
    assert realtime["verdict"] == "fail" and realtime["requests_per_s"] == 2.3
    assert realtime["engine"] == {
        "model": "realtime_tensorrt_llm",
        "waiting": 4,
        "active": 2,
        "slots": 16,
        "shared": False,
    }
    assert document["sources"][1] == {
        "kind": "triton",
        "url": "http://t",
        "ok": False,
        "error": "refused",
    }


def test_screen_colours_latencies_by_their_check_and_lists_unreadable_sources() -> None:
    old, new = two_scrapes()
    sources = (Source("triton", "http://t:8002/metrics", "cannot read it (refused)"),)
    console = Console(record=True, width=220, color_system="truecolor")
    console.print(monitor_screen(monitor_view("demo", SPECS, old, new, sources)))
    text = console.export_text(clear=False)
    row = next(line for line in text.splitlines() if line.startswith("│ realtime"))
    assert "FAIL" in row and "2.30" in row and "│     50.0 │" in row and "4/2 of 16" in row
    lines = text.splitlines()
    assert "realtime  FAIL  TTFT p95 ∞ ≤ 200 ✗ · ITL p95 ∞ ≤ 30 ✗" in lines  # 2 rejected: ∞
    assert "interactive  idle  E2E p95 - ≤ 2,000" in lines
    assert "batch  PASS  E2E p95 9,750 ≤ 60,000 ✓ · out tok/s 60.0 ≥ 50 ✓" in lines
    assert not any(line.startswith("general ") for line in lines)  # no objective, no line
    assert "triton http://t:8002/metrics: cannot read it (refused)" in lines
    styled = console.export_text(styles=True)
    assert "\x1b[1;31mFAIL" in styled and "\x1b[31m50.0" in styled
    assert "\x1b[32m9,750" in styled


class FakeScraper:
    """Scrapes of a gateway that finishes one request per tick, on a fake clock."""

    def __init__(self) -> None:
        self.gateway = FakeGateway()
        self.now = 0.0

    def __call__(self) -> tuple[Scrape, tuple[Source, ...]]:
        self.gateway.request("realtime", tokens=4)
        return scrape_at(self.now, self.gateway.text()), (Source("gateway", "fake"),)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_live_views_slide_over_the_window() -> None:
    scraper = FakeScraper()
    watch = Watch("demo", (REALTIME,), window_s=3.0, interval_s=1.0)
    seen = list(views(watch, scraper, ticks=6, sleep=scraper.sleep))
    assert len(seen) == 6 and seen[0].window_s is None
    assert [v.window_s for v in seen[1:]] == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert seen[-1].classes[0].finished == 3  # one request per second over the last 3 s
    assert seen[-1].classes[0].output_tokens_per_s == pytest.approx(4.0)


def test_snapshot_covers_one_window() -> None:
    scraper = FakeScraper()
    watch = Watch("demo", (REALTIME,), window_s=5.0, interval_s=1.0)
    view = snapshot(watch, scraper, sleep=scraper.sleep)
    assert view.window_s == 5.0 and view.classes[0].finished == 1


def test_the_cpu_servers_own_metrics_give_queues_and_engine_slots_per_class() -> None:
    text = (Path(__file__).parent / "data" / "cpu_triton_metrics.txt").read_text()
    specs = class_specs(load_deployment(ROOT / "deploy" / "cpu.yaml"))
    view = monitor_view("cpu_demo", specs, scrape_at(0, text), scrape_at(1, text))
    slots = {item.name: item.engine_slots for item in view.classes}
    assert slots == {"realtime": 4, "interactive": 16, "batch": 32}
    assert all(item.queued == 0 and item.engine_waiting == 0 for item in view.classes)
    assert all(item.requests_per_s is None for item in view.classes)  # no gateway read
