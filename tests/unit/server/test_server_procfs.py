"""/proc inspection and stopping a process group."""

from __future__ import annotations

import os
import subprocess
import time

from tritonsla.server.procfs import (
    child_exit_code,
    group_members,
    process_alive,
    read_stat,
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
