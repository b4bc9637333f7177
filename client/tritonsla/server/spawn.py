"""Starting a planned server process, attached (dies with its parent) or detached.

Both run the server as the leader of its own process group (pgid = pid), with stdin closed and
stdout + stderr written to the plan's log file, so the whole group can be signalled at once.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable

from tritonsla.errors import ServerError
from tritonsla.server.launch import LaunchPlan

_PR_SET_DEATHSIG = 1


def _executable(plan: LaunchPlan) -> str:
    name = plan.argv[0]
    found = shutil.which(name, path=plan.env.get("PATH"))
    if found is None:
        hint = "install Open MPI (the NGC container has it)" if name == "mpirun" else "check it"
        raise ServerError(f"cannot execute {name!r}: not found or not executable; {hint}")
    return found


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when the thread that forked it exits."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_DEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _with_death_signal(argv: list[str]) -> tuple[list[str], Callable[[], None] | None]:
    """argv (and preexec_fn) that make Linux SIGTERM the child when its parent dies.

    util-linux's `setpriv --pdeathsig` sets the signal in the child without a Python
    preexec_fn: a preexec_fn forces a real fork(), whose gRPC fork handlers can abort the child
    when the parent uses gRPC ("epoll_wait error: Bad file descriptor"); without one CPython
    spawns with vfork. The prctl hook is the fallback where setpriv is missing.
    """
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "TERM", "--", *argv], None
    return argv, _die_with_parent_hook()


def spawn_attached(plan: LaunchPlan) -> subprocess.Popen[bytes]:
    """Start the server as a child that is sent SIGTERM when its parent dies (Linux).

    The death signal follows the *thread* that started the child: start it from a thread that
    outlives the server (normally the main thread).
    """
    argv, preexec = _with_death_signal([_executable(plan), *plan.argv[1:]])
    executable = argv[0]
    try:
        with open(plan.log_file, "wb") as log:
            return subprocess.Popen(
                argv,
                executable=executable,
                env=dict(plan.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
    except OSError as error:
        raise ServerError(f"cannot start {executable}: {error}") from error


def spawn_detached(plan: LaunchPlan) -> int:
    """Start the server in a new session that outlives this process; return its pid."""
    executable = _executable(plan)
    try:
        return os.posix_spawn(
            executable,
            list(plan.argv),
            dict(plan.env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    1,
                    str(plan.log_file),
                    os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                    0o644,
                ),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
            setsigdef=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP),
        )
    except OSError as error:
        raise ServerError(f"cannot start {executable}: {error}") from error
