"""/proc inspection, stopping a process group, and spawning: own process group, console captured
in the log file, clear errors.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.command import LaunchPlan
from tritonsla.server.ports import Endpoints
from tritonsla.server.process import (
    child_exit_code,
    group_members,
    process_alive,
    read_stat,
    spawn_attached,
    spawn_detached,
    stop_group,
)


def test_read_stat_of_this_process() -> None:
    stat = read_stat(os.getpid())
    assert stat is not None
    assert stat.pgid == os.getpgid(0)
    assert stat.ppid == os.getppid()
    assert process_alive(os.getpid(), stat.start_ticks)
    assert not process_alive(os.getpid(), stat.start_ticks + 1)


def test_exited_child_is_not_alive() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert read_stat(child.pid) is None
    assert not process_alive(child.pid)


def test_zombie_is_not_alive() -> None:
    pid = os.posix_spawn("/bin/true", ["true"], {})
    while (stat := read_stat(pid)) is not None and stat.state != "Z":
        time.sleep(0.01)
    assert not process_alive(pid)
    assert child_exit_code(pid) == 0
    assert read_stat(pid) is None


def test_stop_group_escalates_past_an_ignored_sigint() -> None:
    # a shell ignoring SIGINT with a grandchild: both must go
    script = "trap '' INT; sleep 60 & wait"
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    try:
        for _ in range(200):
            if len(group_members(leader.pid)) == 2:
                break
            time.sleep(0.01)
        assert len(group_members(leader.pid)) == 2
        stop_group(leader.pid, interrupt_timeout=0.3, term_timeout=5, reap_leader=False)
        assert group_members(leader.pid) == []
        assert leader.wait(timeout=5) != 0
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()


def test_stop_group_of_nothing_returns() -> None:
    child = subprocess.Popen(["true"], start_new_session=True)
    child.wait()
    stop_group(child.pid)


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
