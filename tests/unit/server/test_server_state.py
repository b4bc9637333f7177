"""State files of detached servers: round trip, atomic write, stale detection."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import Endpoints, free_ports
from tritonsla.server.process import read_stat
from tritonsla.server.state import (
    ServerState,
    read_state,
    read_status,
    start_detached,
    state_path,
    stop_detached,
    write_state,
)


def make_state(tmp_path: Path, pid: int, start_ticks: int) -> ServerState:
    http, grpc, metrics = free_ports(3)
    return ServerState(
        pid=pid,
        pgid=pid,
        start_ticks=start_ticks,
        endpoints=Endpoints("127.0.0.1", http, grpc, metrics),
        model_repository=tmp_path / "repo",
        log_file=tmp_path / "tritonserver.log",
        admin_key="KEY",
        started_at=1_700_000_000.5,
        argv=("tritonserver", "--model-repository=/repo"),
    )


def this_process(tmp_path: Path) -> ServerState:
    """A state pointing at this (live) test process."""
    own = read_stat(os.getpid())
    assert own is not None
    return make_state(tmp_path, os.getpid(), own.start_ticks)


def gone_process(tmp_path: Path) -> ServerState:
    """A state pointing at a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return make_state(tmp_path, child.pid, 1)


def test_round_trip(tmp_path: Path) -> None:
    state = this_process(tmp_path)
    path = state_path(tmp_path / "run")
    write_state(path, state)
    assert read_state(path) == state
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["server.json"]


def test_absent_state_reads_as_none(tmp_path: Path) -> None:
    assert read_state(state_path(tmp_path)) is None


def test_corrupt_state_is_reported(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    path.write_text('{"pid": 1}')
    with pytest.raises(ServerError, match=r"server\.json is not a valid server state file"):
        read_state(path)


def test_live_state_is_running(tmp_path: Path) -> None:
    state = this_process(tmp_path)
    assert state.running
    write_state(state_path(tmp_path), state)
    status = read_status(tmp_path)
    assert status.running
    assert status.state == state
    assert not status.ready  # nothing listens on its ports
    assert "cannot reach" in status.problem


def test_reused_pid_is_stale(tmp_path: Path) -> None:
    state = this_process(tmp_path)
    reused = make_state(tmp_path, state.pid, state.start_ticks + 1)
    assert not reused.running


def test_stale_state_is_removed_by_status(tmp_path: Path) -> None:
    write_state(state_path(tmp_path), gone_process(tmp_path))
    status = read_status(tmp_path)
    assert not status.running
    assert status.stale_removed
    assert not state_path(tmp_path).exists()
    assert not read_status(tmp_path).stale_removed


def test_stop_of_stale_state_removes_it(tmp_path: Path) -> None:
    write_state(state_path(tmp_path), gone_process(tmp_path))
    assert stop_detached(tmp_path) is None
    assert not state_path(tmp_path).exists()


def test_stop_without_state_is_a_no_op(tmp_path: Path) -> None:
    assert stop_detached(tmp_path) is None


def test_second_start_is_refused_while_one_runs(tmp_path: Path) -> None:
    write_state(state_path(tmp_path), this_process(tmp_path))
    with pytest.raises(ServerError, match=r"already runs \(pid \d+, .*`tritonsla stop`"):
        start_detached(ServerOptions(tmp_path / "repo"), run_dir=tmp_path)
