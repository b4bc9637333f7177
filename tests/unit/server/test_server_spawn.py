"""Spawning: own process group, console captured in the log file, clear errors."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.launch import LaunchPlan
from tritonsla.server.ports import Endpoints
from tritonsla.server.procfs import child_exit_code, read_stat
from tritonsla.server.spawn import spawn_attached, spawn_detached

SCRIPT = "echo out; echo err >&2; read line || echo stdin closed"


def plan(tmp_path: Path, *argv: str, path: str | None = None) -> LaunchPlan:
    return LaunchPlan(
        argv=argv,
        env={"PATH": os.environ["PATH"] if path is None else path},
        endpoints=Endpoints("127.0.0.1", 1, 2, 3),
        admin_key=None,
        model_repository=tmp_path,
        log_file=tmp_path / "server.log",
    )


def test_attached_child_leads_its_group_and_logs_its_console(tmp_path: Path) -> None:
    child = spawn_attached(plan(tmp_path, "sh", "-c", SCRIPT))
    stat = read_stat(child.pid)
    assert child.wait(timeout=10) == 0
    assert stat is None or stat.pgid == child.pid
    assert (tmp_path / "server.log").read_text() == "out\nerr\nstdin closed\n"


def test_detached_child_leads_its_session_and_logs_its_console(tmp_path: Path) -> None:
    pid = spawn_detached(plan(tmp_path, "sh", "-c", f"{SCRIPT}; sleep 0.5"))
    assert os.getsid(pid) == pid
    while (code := child_exit_code(pid)) is None:
        time.sleep(0.05)
    assert code == 0
    assert (tmp_path / "server.log").read_text() == "out\nerr\nstdin closed\n"


@pytest.mark.parametrize("spawn", [spawn_attached, spawn_detached])
def test_missing_mpirun_says_what_to_install(
    tmp_path: Path, spawn: Callable[[LaunchPlan], object]
) -> None:
    with pytest.raises(ServerError, match=r"cannot execute 'mpirun'.*install Open MPI"):
        spawn(plan(tmp_path, "mpirun", "-n", "1", path=str(tmp_path)))
