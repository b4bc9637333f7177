"""`tritonsla bench --capacity` against the real CPU deployment: a tiny search of short probes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.integration.test_bench import bench
from tritonsla.bench.benchmark import BenchOptions, prepare
from tritonsla.bench.capacity import CapacitySettings
from tritonsla.bench.capacity_probe import find_capacity
from tritonsla.bench.workload import TokenLengths

pytestmark = pytest.mark.integration

TINY = ("--start-rate", "2", "--min-rate", "1", "--max-rate", "4", "--tolerance", "0.5")
SHORT = ("--probe-seconds", "3", "--probe-requests", "6", "--warmup-requests", "1")


def test_capacity_search_prints_every_probe_and_writes_capacity_json(
    cpu_server, tmp_path: Path
) -> None:
    out = tmp_path / "capacity"
    status, text = bench(
        cpu_server, "--capacity", "--mix", "realtime=0.5,interactive=0.5", *TINY, *SHORT,
        "--drain-timeout", "5", "--out", str(out),
    )  # fmt: skip
    print(text)
    assert status == 0
    assert "probe 1: 2 req/s" in text and "capacity:" in text

    document = json.loads((out / "capacity.json").read_text())
    probes = document["probes"]
    assert 1 <= len(probes) <= 5
    assert probes[0]["rate_rps"] == 2
    assert all(1 <= p["rate_rps"] <= 4 for p in probes)
    for probe in probes:
        assert probe["offered_rps"] > 0 and probe["served_rps"] >= 0
        assert set(probe["verdicts"]) == {"realtime", "interactive"}
        assert {d["sla"] for d in probe["drift"]} <= {"realtime", "interactive"}
        assert probe["slo_met"] == (not probe["reasons"])
        assert probe["run"]["summary"]["overall"]["counts"]["total"] >= 6
    failed = {p["rate_rps"] for p in probes if not p["slo_met"]}
    met = [p["rate_rps"] for p in probes if p["slo_met"] and p["rate_rps"] not in failed]
    assert document["capacity_rps"] == (max(met) if met else 0)
    if met:  # confirmed with other arrivals: a second probe at the capacity
        again = [p for p in probes if p["rate_rps"] == max(met) and p["attempt"] == 1]
        assert len(again) == 1
        first = next(p for p in probes if p["rate_rps"] == max(met) and p["attempt"] == 0)
        # another draw of arrivals, at exactly the same offered rate
        assert again[0]["offered_rps"] == pytest.approx(first["offered_rps"])
        assert again[0]["offered_rps"] == pytest.approx(first["rate_rps"])
    assert document["bench"]["mix"] == {"realtime": 0.5, "interactive": 0.5}
    assert (out / "summary.json").exists() and (out / "requests.csv").exists()


def test_an_impossible_slo_gives_zero_and_names_the_failing_probe(cpu_server) -> None:
    endpoints = cpu_server.endpoints
    prepared = prepare(
        BenchOptions(
            cpu_server.deployment.deploy_file,
            urls=(endpoints.grpc_address,),
            metrics_url=endpoints.metrics_url,
            mix="realtime=1",
            input_tokens=TokenLengths(24),
            output_tokens=TokenLengths(8),
            goodput=("ttft_ms=0.001",),
            server_stats=False,
        )
    )
    settings = CapacitySettings(
        start_rps=2, min_rps=1, max_rps=4, probe_seconds=2, min_probe_requests=4,
        warmup_requests=0, drain_s=5,
    )  # fmt: skip
    result = asyncio.run(find_capacity(prepared, settings))
    assert result.capacity_rps == 0 and result.capacity_probe is None
    assert [p.rate for p in result.probes] == [2, 1]
    assert result.limiting is result.probes[-1]
    assert any("realtime" in r and "ttft_ms" in r for r in result.limiting.reasons)
    assert "even 1 req/s" in result.reason and "ttft_ms" in result.reason
