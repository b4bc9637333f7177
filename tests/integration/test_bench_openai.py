"""`tritonsla bench --openai-url` and `tritonsla monitor` against the real gateway in front of
the CPU deployment (deploy/cpu.yaml on a real tritonserver)."""

from __future__ import annotations

import argparse
import csv
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from rich.console import Console

from tests.integration.conftest import ServedDeployment
from tritonsla.cli import bench_cmd
from tritonsla.cli.main import run
from tritonsla.gateway import GatewayThread, create_app
from tritonsla.monitor.scrape import parse_samples
from tritonsla.routing import Replica
from tritonsla.server.ports import free_ports

pytestmark = pytest.mark.integration

REQUESTS = "tritonsla_gateway_requests_total"


@pytest.fixture(scope="module")
def gateway(cpu_server: ServedDeployment) -> Iterator[str]:
    """The gateway of deploy/cpu.yaml on a free port, routing to the session's server."""
    endpoints = cpu_server.endpoints
    replica = Replica(endpoints.grpc_address, endpoints.metrics_url)
    (port,) = free_ports(1)
    thread = GatewayThread(create_app(cpu_server.deployment, replicas=[replica]), "127.0.0.1", port)
    thread.start()
    try:
        yield thread.url
    finally:
        thread.stop()


def gateway_requests(url: str) -> dict[str, float]:
    """Requests the gateway counted, per class."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        samples = parse_samples(response.read().decode())
    counts: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == REQUESTS:
            sla = dict(labels)["sla"]
            counts[sla] = counts.get(sla, 0.0) + value
    return counts


def bench(served: ServedDeployment, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    endpoints = served.endpoints
    args = parser.parse_args(
        ["bench", "--deploy", str(served.deployment.deploy_file), "--url",
         endpoints.grpc_address, "--metrics-url", endpoints.metrics_url, *argv]
    )  # fmt: skip
    console = Console(record=True, width=200)
    return args.handler(args, console), console.export_text()


def test_bench_through_the_gateway_with_genai_perf_flags(
    cpu_server: ServedDeployment, gateway: str, tmp_path: Path
) -> None:
    before = gateway_requests(gateway)
    out = tmp_path / "artifacts"
    status, text = bench(
        cpu_server, "--openai-url", f"{gateway}/v1", "--endpoint-type", "chat", "--streaming",
        "--mix", "realtime=0.5,batch=0.5", "--concurrency", "2", "--request-count", "8",
        "--synthetic-input-tokens-mean", "16", "--output-tokens-mean", "6", "--num-prompts", "3",
        "--goodput", "time_to_first_token:5000", "--artifact-dir", str(out),
        "--profile-export-file", "gw.json",
    )  # fmt: skip
    print(text)
    assert status == 0
    counted = gateway_requests(gateway)
    through = {sla: counted[sla] - before.get(sla, 0) for sla in ("realtime", "batch")}
    assert sum(through.values()) == 8 and min(through.values()) >= 1  # all through the gateway

    document = json.loads((out / "gw_genai_perf.json").read_text())
    assert document["request_count"]["avg"] == 8 and document["error_count"]["avg"] == 0
    assert document["output_sequence_length"]["min"] == 6  # min_tokens: exact lengths
    assert document["output_sequence_length"]["max"] == 6
    ttft = document["time_to_first_token"]
    assert 0 < ttft["p25"] <= ttft["p50"] <= ttft["p75"]
    assert document["inter_token_latency"]["avg"] > 0
    assert document["output_token_throughput"]["avg"] > 0
    assert set(document["sla_classes"]) == {"realtime", "batch"}
    assert document["input_config"]["mode"] == "openai"
    with (out / "requests.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {row["endpoint"] for row in rows} == {"realtime", "batch"}
    assert all(row["endpoint"] == row["sla"] for row in rows)  # the class that served each
    assert sum(row["sla"] == "realtime" for row in rows) == through["realtime"]
    assert (out / "gw_genai_perf.csv").read_text().startswith("Metric,avg,min,max,p99")


def test_a_fixed_schedule_sends_at_the_trace_times_through_the_gateway(
    cpu_server: ServedDeployment, gateway: str, tmp_path: Path
) -> None:
    stamps = [1000.0, 1040.0, 1045.0, 1120.0, 1200.0]  # ms, as aiperf's traces write them
    trace = tmp_path / "trace.jsonl"
    trace.write_text(
        "".join(json.dumps({"timestamp": t, "input_length": 9}) + "\n" for t in stamps)
    )
    before = sum(gateway_requests(gateway).values())
    out = tmp_path / "artifacts"
    status, _ = bench(
        cpu_server, "--openai-url", f"{gateway}/v1", "--endpoint-type", "chat", "--streaming",
        "--mix", "interactive=1", "--fixed-schedule", str(trace), "--warmup-request-count", "1",
        "--output-tokens-mean", "4", "--no-server-stats", "--artifact-dir", str(out),
    )  # fmt: skip
    assert status == 0
    assert sum(gateway_requests(gateway).values()) - before == len(stamps)
    with (out / "requests.csv").open() as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: float(row["scheduled_s"]))
    assert [row["status"] for row in rows] == ["ok"] * len(stamps)
    assert [row["warmup"] for row in rows] == ["true"] + ["false"] * (len(stamps) - 1)
    offsets = [(float(row["scheduled_s"]) - float(rows[0]["scheduled_s"])) * 1000 for row in rows]
    assert offsets == pytest.approx([t - stamps[0] for t in stamps], abs=1e-6)
    assert all(float(row["sent_s"]) >= float(row["scheduled_s"]) for row in rows)


def test_gateway_errors_are_error_records(
    cpu_server: ServedDeployment, gateway: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = bench(
        cpu_server, "--openai-url", f"{gateway}/v1", "--model", "no-such-model",
        "--request-count", "2", "--output-tokens", "2", "--json", "--no-server-stats",
    )  # fmt: skip
    assert status == 0
    overall = json.loads(capsys.readouterr().out)["runs"][0]["summary"]["overall"]
    assert overall["errors"] == {"BadRequest": 2} and overall["counts"]["ok"] == 0


def test_monitor_snapshot_of_live_gateway_traffic(
    cpu_server: ServedDeployment, gateway: str, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = cpu_server.endpoints

    def traffic() -> None:
        with httpx2.Client(base_url=f"{gateway}/v1", timeout=60) as client:
            for sla in ("realtime", "realtime", "interactive", "realtime"):
                body = {"model": "tiny-gpt2", "prompt": "the model", "max_tokens": 4,
                        "min_tokens": 4, "stream": True}  # fmt: skip
                with client.stream("POST", "/completions", json=body,
                                   headers={"x-sla-class": sla}) as response:  # fmt: skip
                    assert response.status_code == 200
                    response.read()

    sender = threading.Thread(target=traffic)
    timer = threading.Timer(0.3, sender.start)
    timer.start()
    status = run(
        ["monitor", "--deploy", str(cpu_server.deployment.deploy_file), "--gateway-url", gateway,
         "--metrics-url", endpoints.metrics_url, "--once", "--json", "--window", "4"]
    )  # fmt: skip
    timer.join()
    sender.join(timeout=60)
    assert status == 0
    document = json.loads(capsys.readouterr().out)
    assert all(source["ok"] for source in document["sources"])
    realtime = document["classes"]["realtime"]
    assert realtime["finished"] >= 1 and realtime["outcomes"].get("ok", 0) >= 1
    assert realtime["ttft_ms"]["p50"] is not None and realtime["ttft_ms"]["slo"]["threshold"] == 500
    assert realtime["output_tokens_per_s"] > 0
    engine = realtime["engine"]
    assert (engine["model"], engine["slots"], engine["shared"]) == (
        "realtime_tensorrt_llm",
        4,
        False,
    )
    assert realtime["queued"] is not None and realtime["in_flight"] is not None
    assert document["classes"]["batch"]["engine"]["slots"] == 32
