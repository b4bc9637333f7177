"""`tritonsla serve` against the real bundled tritonserver: `--foreground` exits with the status
and log of a server that dies, and the API groups restricted beyond loopback hold while the SDK
and bench keep working without the key. Every server binds 127.0.0.1 and is stopped here."""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient
from rich.console import Console
from tritonclient.utils import InferenceServerException

from tests.integration.conftest import ROOT, variant_deploy
from tritonsla.assets import write_default_model
from tritonsla.cli import bench_cmd
from tritonsla.repo.pipeline import render
from tritonsla.routing import Replica, SlaClient
from tritonsla.server import ServerOptions, TritonServer, free_ports, restricted_headers
from tritonsla.server.command import EXPOSED_RESTRICTED
from tritonsla.server.probe import is_ready
from tritonsla.server.process import PROC, group_members, stop_group

pytestmark = pytest.mark.integration

STARTUP_BOUND_S = 300.0
"""How long a start may take before the test gives up (a bound, not an assertion)."""


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    return variant_deploy(tmp_path / "deploy", ["realtime"])


def children(pid: int) -> list[int]:
    try:
        text = (PROC / str(pid) / "task" / str(pid) / "children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def wait_for_server(serve: subprocess.Popen[bytes], http_url: str, output: Path) -> int:
    """The pid of the tritonserver `serve` started, once it is ready and `serve` says so."""
    deadline = time.monotonic() + STARTUP_BOUND_S
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            pytest.fail(f"serve exited with {serve.returncode}:\n{output.read_text()}")
        pids = children(serve.pid)
        if pids and is_ready(http_url) and "Ctrl-C stops the server" in output.read_text():
            return pids[0]
        time.sleep(0.2)
    pytest.fail(f"no ready server after {STARTUP_BOUND_S:.0f} s:\n{output.read_text()}")


def test_foreground_serve_exits_with_the_status_and_log_of_a_killed_server(
    deploy: Path, tmp_path: Path
) -> None:
    http, grpc, metrics = free_ports(3)
    run_dir = tmp_path / "run"
    argv = [
        sys.executable, "-m", "tritonsla.cli.main", "serve", "--foreground",
        "--deploy", str(deploy), "--repo", str(tmp_path / "repo"), "--host", "127.0.0.1",
        "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
        "--run-dir", str(run_dir),
    ]  # fmt: skip
    output = tmp_path / "serve.out"
    server_pid = None
    with output.open("wb") as sink:
        serve = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "1000"}
        )
    try:
        server_pid = wait_for_server(serve, f"http://127.0.0.1:{http}", output)
        key_file = run_dir / "tritonserver-foreground.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(key_file.read_text().strip()) > 16
        os.kill(server_pid, signal.SIGKILL)
        serve.wait(timeout=120)
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=120)
        if server_pid is not None:
            stop_group(server_pid)
    text = output.read_text()
    assert serve.returncode == 128 + signal.SIGKILL, text
    assert "tritonserver exited with code -9 (signal 9, Killed) while serving" in text
    assert f"Last lines of {run_dir / 'tritonserver-foreground.log'}" in text
    assert f"in {key_file}" in text and f"repository: {tmp_path / 'repo'}" in text
    assert group_members(server_pid) == []
    assert not key_file.exists()


def http_status(url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except http.client.HTTPException:
        return -1


RESTRICTED_HTTP = {
    "model-config": ("/v2/models/realtime_ensemble/config", None),
    "logging": ("/v2/logging", None),
    "trace": ("/v2/trace/setting", None),
    "shared-memory": ("/v2/systemsharedmemory/status", None),
    "model-repository": ("/v2/repository/index", b"{}"),
}


def test_exposed_restrictions_hold_and_the_sdk_and_bench_need_no_key(
    deploy: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    deployment = render(deploy, repo).deployment
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(
        repo,
        http_port=http,
        grpc_port=grpc,
        metrics_port=metrics,
        restricted_apis=EXPOSED_RESTRICTED,  # what a bind beyond loopback gets
    )
    server = TritonServer(options, log_file=tmp_path / "tritonserver.log", startup_timeout=180)
    with server:
        url = server.endpoints.http_url
        key = restricted_headers(server.admin_key)
        assert set(RESTRICTED_HTTP) == set(EXPOSED_RESTRICTED)
        for api, (path, body) in RESTRICTED_HTTP.items():
            assert http_status(url + path, body=body) == 403, api
            assert http_status(url + path, key, body) == 200, api
        for path in ("/v2/health/ready", "/v2/models/realtime_ensemble", "/v2/models/stats"):
            assert http_status(url + path) == 200, path

        grpc_client = grpcclient.InferenceServerClient(server.endpoints.grpc_address)
        try:
            with pytest.raises(InferenceServerException, match="restricted"):
                grpc_client.get_model_config("realtime_ensemble")
            grpc_key = restricted_headers(server.admin_key, grpc=True)
            assert grpc_client.get_model_config("realtime_ensemble", headers=grpc_key)
        finally:
            grpc_client.close()

        replica = Replica(server.endpoints.grpc_address, server.endpoints.metrics_url)
        with SlaClient.from_deployment(deployment, replicas=[replica]) as client:
            assert client.generate("Once upon a time", max_tokens=4).text

        parser = argparse.ArgumentParser(prog="tritonsla")
        bench_cmd.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args([
            "bench", "--deploy", str(deploy), "--url", server.endpoints.grpc_address,
            "--metrics-url", server.endpoints.metrics_url, "--mix", "realtime=1",
            "--requests", "4", "--concurrency", "2", "--output-tokens", "4",
            "--out", str(tmp_path / "bench"),
        ])  # fmt: skip
        console = Console(record=True, width=200)
        assert args.handler(args, console) == 0
        text = console.export_text()
        assert "server side (statistics API)" in text
        assert "server statistics unavailable" not in text
