"""The real bundled tritonserver started through the launcher users use (docs/architecture.md).

A tiny Python-backend model ("add one") is written into a tmp model repository; every server
binds 127.0.0.1 on free ports and is stopped by the code that started it, success or not.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tritonsla.errors import ServerError
from tritonsla.server import (
    ServerOptions,
    TritonServer,
    free_ports,
    read_status,
    restricted_headers,
    stop_detached,
)
from tritonsla.server.process import PROC, group_members, process_alive, stop_group
from tritonsla.server.state import state_path

pytestmark = pytest.mark.integration

CONFIG = """\
name: "add_one"
backend: "python"
max_batch_size: 0
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ -1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ -1 ] }]
instance_group [{ kind: KIND_CPU, count: 1 }]
"""

MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        {initialize}

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            out = pb_utils.Tensor("OUTPUT0", (x + 1).astype(np.float32))
            responses.append(pb_utils.InferenceResponse([out]))
        return responses
"""

BROKEN = "add_one is broken on purpose"


def write_repo(root: Path, initialize: str = "pass") -> Path:
    """A model repository with the "add one" model; `initialize` is its initialize() body."""
    model = root / "add_one"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(CONFIG)
    (model / "1" / "model.py").write_text(MODEL.format(initialize=initialize))
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo")


@pytest.fixture
def options(repo: Path) -> ServerOptions:
    http, grpc, metrics = free_ports(3)
    return ServerOptions(
        model_repository=repo,
        http_port=http,
        grpc_port=grpc,
        metrics_port=metrics,
        model_control_mode="explicit",
        load_models=("add_one",),
    )


@pytest.fixture
def server(options: ServerOptions, tmp_path: Path) -> Iterator[TritonServer]:
    """A started server, stopped afterwards whatever happens."""
    launcher = TritonServer(options, log_file=tmp_path / "tritonserver.log", startup_timeout=60)
    try:
        yield launcher.start()
    finally:
        launcher.stop()


def command_line(pid: int) -> str:
    return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()


def processes_using(path: Path) -> list[int]:
    """Pids whose command line mentions `path` (to find leftovers of a failed start)."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if str(path) in command_line(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def add_one(address: str) -> np.ndarray:
    client = httpclient.InferenceServerClient(address)
    try:
        data = np.array([1.0, 2.0, 3.0], dtype=np.float32)
        tensor = httpclient.InferInput("INPUT0", list(data.shape), "FP32")
        tensor.set_data_from_numpy(data)
        return client.infer("add_one", [tensor]).as_numpy("OUTPUT0")
    finally:
        client.close()


def test_serves_restricts_model_control_and_stops_clean(server: TritonServer) -> None:
    assert server.pid is not None
    pgid = server.pid
    members = group_members(pgid)
    stubs = [pid for pid in members if "triton_python_backend_stub" in command_line(pid)]
    assert stubs, f"no Python backend stub among the group {members}"
    environ = (PROC / str(pgid) / "environ").read_bytes().split(b"\0")
    assert b"OMP_NUM_THREADS=1" in environ

    np.testing.assert_array_equal(add_one(server.endpoints.http_address), [2.0, 3.0, 4.0])

    client = httpclient.InferenceServerClient(server.endpoints.http_address)
    try:
        with pytest.raises(InferenceServerException, match="restricted"):
            client.load_model("add_one")
        with pytest.raises(InferenceServerException, match="restricted"):
            client.get_model_repository_index()
        client.load_model("add_one", headers=restricted_headers(server.admin_key))
        index = client.get_model_repository_index(headers=restricted_headers(server.admin_key))
        assert [(m["name"], m["state"]) for m in index] == [("add_one", "READY")]
    finally:
        client.close()

    grpc = grpcclient.InferenceServerClient(server.endpoints.grpc_address)
    try:
        with pytest.raises(InferenceServerException, match="restricted"):
            grpc.unload_model("add_one")
        grpc.load_model("add_one", headers=restricted_headers(server.admin_key, grpc=True))
    finally:
        grpc.close()

    server.stop()
    server.stop()  # safe twice
    assert server.pid is None
    assert group_members(pgid) == []
    assert not any(process_alive(pid) for pid in members)


def test_second_start_on_the_same_ports_is_refused(
    server: TritonServer, options: ServerOptions, tmp_path: Path
) -> None:
    second = TritonServer(options, log_file=tmp_path / "second.log")
    with pytest.raises(ServerError, match=r"already in use on 127\.0\.0\.1: .*`tritonsla stop`"):
        second.start()
    assert second.pid is None
    np.testing.assert_array_equal(add_one(server.endpoints.http_address), [2.0, 3.0, 4.0])


def test_broken_model_fails_with_the_log_tail(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "broken", initialize=f"raise RuntimeError({BROKEN!r})")
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(repo, http_port=http, grpc_port=grpc, metrics_port=metrics)
    launcher = TritonServer(options, log_file=tmp_path / "broken.log", startup_timeout=60)
    try:
        with pytest.raises(ServerError, match="while starting") as caught:
            launcher.start()
    finally:
        launcher.stop()
    assert BROKEN in str(caught.value)
    assert processes_using(repo) == []


def run_python(code: str, pipes: bool = False) -> subprocess.Popen[str]:
    """Run `code` in a fresh interpreter of this venv (another parent for a server)."""
    pipe = subprocess.PIPE if pipes else None
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], text=True, stdin=pipe, stdout=pipe
    )


def options_code(options: ServerOptions) -> str:
    return (
        f"ServerOptions(Path({str(options.model_repository)!r}), http_port={options.http_port}, "
        f"grpc_port={options.grpc_port}, metrics_port={options.metrics_port}, "
        f"model_control_mode='explicit', load_models=('add_one',))"
    )


def wait_for_empty_group(pgid: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return group_members(pgid)


def test_server_dies_with_its_parent(options: ServerOptions, tmp_path: Path) -> None:
    parent = run_python(
        f"""
        import sys
        from pathlib import Path
        from tritonsla.server import ServerOptions, TritonServer
        server = TritonServer({options_code(options)}, log_file=Path({str(tmp_path / "l")!r}))
        server.start()
        print(server.pid, flush=True)
        sys.stdin.read()
        """,
        pipes=True,
    )
    pgid = None
    with parent:  # closes the pipes
        try:
            assert parent.stdout is not None
            pgid = int(parent.stdout.readline())
            assert group_members(pgid)
            parent.kill()
            parent.wait()
            assert wait_for_empty_group(pgid, timeout=30) == []
        finally:
            parent.kill()  # no-op once it is gone
            if pgid is not None:
                stop_group(pgid)


def test_detached_server_outlives_its_starter(options: ServerOptions, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    starter = run_python(
        f"""
        from pathlib import Path
        from tritonsla.server import ServerOptions, start_detached
        start_detached({options_code(options)}, run_dir=Path({str(run_dir)!r}))
        """
    )
    try:
        assert starter.wait(timeout=90) == 0
        status = read_status(run_dir)
        assert status.running and status.ready
        assert status.loaded_models == ("add_one",)
        state = status.state
        assert state is not None
        assert state.endpoints == options.endpoints
        assert stat.S_IMODE(state_path(run_dir).stat().st_mode) == 0o600
        np.testing.assert_array_equal(add_one(state.endpoints.http_address), [2.0, 3.0, 4.0])
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        stopped = stop_detached(run_dir)
    assert stopped == state
    assert group_members(state.pgid) == []
    assert not state_path(run_dir).exists()
    assert not read_status(run_dir).running
