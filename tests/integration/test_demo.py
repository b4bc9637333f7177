"""The main job end to end at a small size: three topologies served for real, the report written."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from tritonsla.bench.capacity import CapacitySettings
from tritonsla.demo.run import DemoOptions, run_demo

pytestmark = pytest.mark.integration

TOPOLOGY_KEYS = {
    "name",
    "cores",
    "engine_instances",
    "inflight_slots",
    "kv_tokens",
    "slo_capacity_rps",
    "probes",
}


def test_small_demo_writes_the_whole_report(tmp_path):
    out = tmp_path / "report"
    console = Console(record=True, width=140)
    probes = CapacitySettings(
        start_rps=3.0, max_rps=6.0, probe_seconds=3.0, min_probe_requests=8, warmup_requests=2,
        tolerance=0.5,
    )  # fmt: skip
    options = DemoOptions(out=out, model=None, capacity=probes, workload_requests=120)
    result = run_demo(options, console)
    assert result.out == out.resolve()
    for name in (
        "index.html",
        "comparison.json",
        "comparison.csv",
        "capacity_vs_load.png",
        "latency_vs_load.png",
        "workload.jsonl",
        "dedicated/capacity.json",
        "shared/requests.csv",
        "single/summary.json",
        "deploy/shared.yaml",
        "logs/dedicated.log",
        "logs/shared.log",
        "logs/single.log",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    document = json.loads((out / "comparison.json").read_text())
    topologies = document["topologies"]
    assert [t["name"] for t in topologies] == ["dedicated", "shared", "single"]
    for topology in topologies:
        assert set(topology) >= TOPOLOGY_KEYS
        assert (topology["inflight_slots"], topology["kv_tokens"]) == (52, 28672)
        assert topology["probes"] and all("rate_rps" in p for p in topology["probes"])
    capacities = {t["name"]: t["slo_capacity_rps"] for t in topologies}
    assert all(f"SLO capacity {capacities[t.name]:.2f}" in " ".join(result.conclusion)
               for t in result.results)  # fmt: skip
    html = (out / "index.html").read_text()
    assert "Compute parity" in html and "capacity_vs_load.png" in html
    assert not list(tmp_path.glob(".report.running-*"))  # staging replaced the output
