"""`tritonsla bench` against the real CPU deployment (all three SLA endpoints on one server)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
from rich.console import Console

from tritonsla.bench.report.json_report import read_json
from tritonsla.cli import bench_cmd

pytestmark = pytest.mark.integration

MIX = "realtime=0.2,interactive=0.3,batch=0.5"


def bench(served, *argv: str) -> tuple[int, str]:
    """Run `tritonsla bench` against `served` (its ports, not the deploy file's); (status, text)."""
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    endpoints = served.endpoints
    common = [
        "--deploy", str(served.deployment.deploy_file),
        "--url", endpoints.grpc_address,
        "--metrics-url", endpoints.metrics_url,
        "--input-tokens", "24", "--input-tokens-std", "4",
        "--output-tokens", "8", "--output-tokens-std", "2",
    ]  # fmt: skip
    args = parser.parse_args(["bench", *common, *argv])
    console = Console(record=True, width=200)
    status = args.handler(args, console)
    return status, console.export_text()


def test_mixed_run_prints_verdicts_and_writes_the_report(cpu_server, tmp_path: Path) -> None:
    out = tmp_path / "run1"
    status, text = bench(
        cpu_server, "--mix", MIX, "--concurrency", "4", "--requests", "20",
        "--warmup-requests", "2", "--out", str(out),
    )  # fmt: skip
    print(text)
    assert status == 0
    for name in ("realtime", "interactive", "batch"):
        line = next(row for row in text.splitlines() if row.startswith(f"│ {name} "))
        assert "PASS" in line or "FAIL" in line
    assert "self-check:" in text

    report = read_json(out / "summary.json")
    (run,) = report.runs
    summary = run.summary
    assert summary.overall.counts.total == 20
    assert summary.overall.counts.ok >= 1
    assert set(summary.classes) == {"realtime", "interactive", "batch"}
    assert {v.passed for v in summary.verdicts.values()} <= {True, False}
    assert summary.classes["batch"].counts.total == 10  # 50% of 20, exactly
    assert summary.overall.ttft_ms is not None and summary.overall.ttft_ms.min > 0
    assert summary.overall.output_tokens_per_s > 0
    assert set(summary.endpoints) <= {f"{c}_tensorrt_llm_bls" for c in summary.classes}
    served_models = {model.model for server in run.servers for model in server.models}
    assert "realtime_tensorrt_llm" in served_models or "batch_tensorrt_llm" in served_models
    assert run.server_error is None

    with (out / "requests.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 22
    assert sum(row["warmup"] == "true" for row in rows) == 2
    streamed = [r for r in rows if r["sla"] == "realtime" and r["status"] == "ok"]
    assert all(len(r["chunks_s"].split()) >= 1 for r in streamed)
    with (out / "summary.csv").open() as handle:
        groups = {(row["group"], row["name"]) for row in csv.DictReader(handle)}
    assert ("class", "realtime") in groups and ("all", "all") in groups
    png = (out / "ttft_cdf.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_sweep_to_a_fixed_endpoint_with_json_output(cpu_server, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    status, _ = bench(
        cpu_server, "--mix", "realtime=0.5,batch=0.5", "--endpoint",
        "interactive_tensorrt_llm_bls", "--sweep", "concurrency=1,3", "--requests", "6",
        "--json", "--out", str(out),
    )  # fmt: skip
    assert status == 0
    document = json.loads(capsys.readouterr().out)
    assert document["settings"]["mode"] == "fixed endpoint"
    assert [run["name"] for run in document["runs"]] == ["concurrent@1", "concurrent@3"]
    for run in document["runs"]:
        assert set(run["summary"]["endpoints"]) == {"interactive_tensorrt_llm_bls"}
        assert set(run["summary"]["classes"]) == {"realtime", "batch"}
    curve = (out / "latency_throughput.png").read_bytes()
    assert curve.startswith(b"\x89PNG") and len(curve) > 10_000


def test_open_loop_rate_counts_from_scheduled_sends(cpu_server) -> None:
    status, text = bench(
        cpu_server, "--mix", "realtime=1", "--request-rate", "10", "--arrival", "constant",
        "--requests", "10", "--no-server-stats",
    )  # fmt: skip
    assert status == 0
    assert "constant@10rps: per SLA class" in text
    assert "server side" not in text
