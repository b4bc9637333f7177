"""Processes and process groups seen through /proc (Linux), and stopping a group.

A zombie counts as gone: it holds no resources, and its parent (maybe this process) reaps it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tritonsla.errors import ServerError

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat this package uses."""

    pid: int
    state: str
    ppid: int
    pgid: int
    start_ticks: int
    """Start time after boot in clock ticks: with the pid, identifies one process for good."""


def read_stat(pid: int) -> ProcStat | None:
    """The stat of `pid`, or None when no such process exists."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        start_ticks=int(fields[19]),
    )


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True while `pid` runs (not a zombie) and, if given, started at `start_ticks`."""
    stat = read_stat(pid)
    if stat is None or stat.state in ("Z", "X"):
        return False
    return start_ticks is None or stat.start_ticks == start_ticks


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is not None and stat.pgid == pgid and stat.state not in ("Z", "X"):
            members.append(stat.pid)
    return members


def reap(pid: int) -> None:
    """Collect `pid`'s exit status if it is an exited child of this process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_empty(pgid: int, timeout: float, reap_leader: bool) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if reap_leader:
            reap(pgid)
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def stop_group(
    pgid: int,
    *,
    interrupt_timeout: float = 30.0,
    term_timeout: float = 10.0,
    reap_leader: bool = True,
) -> None:
    """Stop every process of group `pgid` (led by pid `pgid`): SIGINT, wait, SIGTERM, SIGKILL.

    SIGINT lets tritonserver unload its models and its Python backend stubs exit cleanly.
    `reap_leader=False` leaves the leader's exit status to its `subprocess.Popen`.
    """
    for signum, timeout in (
        (signal.SIGINT, interrupt_timeout),
        (signal.SIGTERM, term_timeout),
        (signal.SIGKILL, 5.0),
    ):
        if not group_members(pgid):
            return
        _signal_group(pgid, signum)
        if _wait_empty(pgid, timeout, reap_leader):
            return
    raise ServerError(
        f"processes {group_members(pgid)} of group {pgid} survived SIGKILL; inspect them with "
        f"`ps -o pid,stat,cmd -g {pgid}`"
    )


def child_exit_code(pid: int) -> int | None:
    """Exit code of child `pid` once it has exited (reaping it), None while it runs.

    A child reaped elsewhere reports -1 once gone. A signal death is `-signum`.
    """
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if process_alive(pid) else -1
    return os.waitstatus_to_exitcode(status) if done else None
