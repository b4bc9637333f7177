"""`tritonsla gateway` and `tritonsla serve --gateway` as users and the Kubernetes manifests run
them: processes of their own, the API key from the environment, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openai import OpenAI

from tests.integration.conftest import ROOT, ServedDeployment, variant_deploy
from tritonsla.assets import write_default_model
from tritonsla.server import free_ports

pytestmark = pytest.mark.integration

KEY = "gw-test-key-4f1c"
STARTUP_BOUND_S = 180.0
"""How long a start may take before the test gives up (a bound, not an assertion)."""


def tritonsla(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tritonsla.cli.main", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def status_of(url: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_BOUND_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            if status_of(f"{url}/health/ready") == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"not ready within {STARTUP_BOUND_S} s:\n{log.read_text()}")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()


def test_gateway_command_takes_its_key_from_the_environment(
    cpu_server: ServedDeployment, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    env = {**os.environ, "TRITONSLA_API_KEY": KEY}
    gateway = tritonsla(
        "gateway",
        "--deploy",
        str(ROOT / "deploy" / "cpu.yaml"),
        "--replica",
        cpu_server.endpoints.grpc_address,
        "--port",
        str(port),
        env=env,
        log=log,
    )
    try:
        wait_ready(gateway, url, log)
        cmdline = Path(f"/proc/{gateway.pid}/cmdline").read_bytes()
        assert KEY.encode() not in cmdline
        assert status_of(f"{url}/v1/models") == 401
        assert status_of(f"{url}/v1/models", "wrong") == 401
        assert status_of(f"{url}/v1/models", KEY) == 200
        answer = OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0).completions.create(
            model="tiny-gpt2:realtime", prompt="Hello", max_tokens=3
        )
        assert answer.usage.completion_tokens >= 1
    finally:
        code = stop(gateway)
    assert code == 0, log.read_text()
    assert "API key required" in log.read_text() and KEY not in log.read_text()
    assert not listening(port)


def test_serve_with_gateway_starts_and_stops_both(tmp_path: Path) -> None:
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    deploy = variant_deploy(tmp_path / "deploy", ["realtime"])
    http, grpc, metrics, port = free_ports(4)
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "TRITONSLA_API_KEY"}
    serve = tritonsla(
        "serve",
        "--gateway",
        "--deploy",
        str(deploy),
        "--repo",
        str(tmp_path / "repo"),
        "--http-port",
        str(http),
        "--grpc-port",
        str(grpc),
        "--metrics-port",
        str(metrics),
        "--gateway-port",
        str(port),
        "--run-dir",
        str(tmp_path / "run"),
        env=env,
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(serve, url, log)
        with urllib.request.urlopen(f"{url}/health/ready", timeout=5) as ready:
            assert json.loads(ready.read()) == {"ready": True, "classes": {"realtime": True}}
        chat = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        answer = chat.chat.completions.create(
            model="tiny-gpt2", messages=[{"role": "user", "content": "Hi"}], max_tokens=3
        )
        assert answer.model == "tiny-gpt2:realtime" and answer.usage.completion_tokens >= 1
    finally:
        code = stop(serve)
    assert code == 0, log.read_text()
    assert not listening(port) and not listening(grpc) and not listening(http)
