"""`tritonsla monitor` against a real local metrics server serving the gateway's families."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatewaykit import FakeGateway
from prometheus_client import start_http_server
from rich.console import Console

from tritonsla.cli.main import run
from tritonsla.cli.options import UsageError
from tritonsla.monitor.sources import MetricsEndpoint, scrape
from tritonsla.server.ports import free_ports

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = str(ROOT / "deploy" / "cpu.yaml")


@pytest.fixture
def gateway() -> Iterator[tuple[FakeGateway, str]]:
    """A FakeGateway's registry served over HTTP on a free loopback port."""
    fake = FakeGateway()
    server, thread = start_http_server(0, "127.0.0.1", registry=fake.registry)
    try:
        yield fake, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_url() -> str:
    (port,) = free_ports(1)
    return f"http://127.0.0.1:{port}/metrics"


def test_once_json_covers_the_window_and_reports_an_unreadable_triton(
    gateway: tuple[FakeGateway, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = gateway
    fake.request("realtime", tokens=99)  # before the window
    timer = threading.Timer(0.15, lambda: [fake.request("realtime", tokens=6) for _ in range(3)])
    timer.start()
    status = run(
        ["monitor", "--deploy", DEPLOY, "--gateway-url", url, "--metrics-url", closed_url(),
         "--once", "--json", "--window", "0.5"]
    )  # fmt: skip
    timer.join()
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    realtime = document["classes"]["realtime"]
    assert realtime["finished"] == 3 and realtime["outcomes"] == {"ok": 3}
    assert realtime["output_tokens_per_s"] == pytest.approx(18 / document["window_s"], rel=0.01)
    assert realtime["ttft_ms"]["slo"]["threshold"] == 500.0  # deploy/cpu.yaml's objective
    assert realtime["ttft_ms"]["slo"]["passed"] is True
    assert document["classes"]["batch"]["verdict"] == "idle"
    gateway_source, triton_source = document["sources"]
    assert gateway_source["ok"] and gateway_source["url"] == f"{url}/metrics"
    assert not triton_source["ok"] and "cannot read it" in triton_source["error"]


def test_live_view_refreshes_until_its_duration(gateway: tuple[FakeGateway, str]) -> None:
    fake, url = gateway
    fake.request("batch", ttft=1.0, e2e=5.0, tokens=500)
    console = Console(record=True, width=200, force_terminal=False)
    status = run(
        ["monitor", "--deploy", DEPLOY, "--gateway-url", url, "--no-gateway", "--metrics-url",
         url, "--interval", "0.05", "--duration", "0.2", "--window", "1"],
        console,
    )  # fmt: skip
    assert status == 0
    text = console.export_text()
    assert "cpu_demo: last" in text and "realtime" in text and "batch" in text


def test_exit_status_1_when_no_endpoint_answers(capsys: pytest.CaptureFixture[str]) -> None:
    status = run(
        ["monitor", "--deploy", DEPLOY, "--gateway-url", closed_url(), "--metrics-url",
         closed_url(), "--once", "--window", "0.05", "--timeout", "0.5"],
        Console(record=True, width=200),
    )  # fmt: skip
    assert status == 1


def test_json_needs_once() -> None:
    with pytest.raises(UsageError, match="--json needs --once"):
        run(["monitor", "--deploy", DEPLOY, "--json"])


def test_an_endpoint_that_does_not_speak_http_is_reported_not_raised() -> None:
    # e.g. --metrics-url pointed at the gRPC port: the answer is no HTTP status line
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"\x00\x00\x12garbage\r\n\r\n")

        threading.Thread(target=answer_garbage, daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"
        _, sources = scrape([MetricsEndpoint("triton", url)], timeout=2.0)
    assert sources[0].error is not None and "cannot read it" in sources[0].error
