"""The main job end to end at a small size: both phases served for real, the report written."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from tritonsla.demo.run import DemoOptions, run_demo

pytestmark = pytest.mark.integration


def test_small_demo_writes_the_whole_report(tmp_path):
    out = tmp_path / "report"
    console = Console(record=True, width=120)
    result = run_demo(DemoOptions(out=out, rates=(6.0,), requests=12, warmup_requests=2), console)
    assert result.out == out.resolve()
    for name in (
        "index.html",
        "comparison.json",
        "comparison.csv",
        "goodput_vs_load.png",
        "latency_vs_load.png",
        "workload.jsonl",
        "sla/summary.json",
        "single/requests.csv",
        "logs/sla.log",
        "logs/single.log",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    [comparison] = json.loads((out / "comparison.json").read_text())
    assert [row["sla"] for row in comparison["rows"]] == ["realtime", "interactive", "batch"]
    for row in comparison["rows"]:
        assert row["routed"]["total"] > 0 and row["single"]["total"] > 0
    assert result.conclusion and "poisson@6rps" in result.conclusion[0]
    html = (out / "index.html").read_text()
    assert "What the numbers say" in html and "goodput_vs_load.png" in html
    assert not list(tmp_path.glob(".report.running-*"))  # staging replaced the output
