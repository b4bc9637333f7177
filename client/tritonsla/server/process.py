"""tritonserver processes: start one as a child or detached, watch it through /proc, stop its
process group.

    with TritonServer(ServerOptions(model_repository=repo, http_port=port, ...)) as server:
        client = tritonclient.http.InferenceServerClient(server.endpoints.http_address)

`TritonServer` is a child server as a context manager. The server runs as the leader of its own
process group (pgid = pid; its Python backend stubs are in it), with stdin closed and stdout +
stderr written to the plan's log file, so the whole group can be signalled at once. A child
dies with its parent (Linux), and `stop()` (SIGINT, wait, SIGTERM, SIGKILL to the group) leaves
no process behind; it is safe to call twice. A detached server (`spawn_detached`) runs in a new
session that outlives this process. Processes are seen through /proc; a zombie counts as gone:
it holds no resources, and its parent (maybe this process) reaps it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tritonsla.errors import ServerError
from tritonsla.server.command import LaunchPlan, Parallelism, ServerOptions, plan_launch
from tritonsla.server.install import TritonInstall, default_run_dir, find_tritonserver
from tritonsla.server.ports import Endpoints, ensure_ports_free
from tritonsla.server.probe import ProgressHook, wait_until_ready

DEFAULT_STARTUP_TIMEOUT = 120.0


def prepare_launch(
    options: ServerOptions,
    *,
    log_file: Path,
    install: TritonInstall | None = None,
    parallelism: Parallelism | None = None,
    blas_threads: int = 1,
) -> LaunchPlan:
    """Find the server, plan its start from this process's env, check its ports are free."""
    if options.http_port == 0:
        raise ServerError("`http_port` is 0; readiness needs a known port — pick a free one")
    plan = plan_launch(
        options,
        install or find_tritonserver(),
        log_file=log_file,
        base_env=os.environ,
        python_bin=Path(sys.executable).parent,
        parallelism=parallelism,
        blas_threads=blas_threads,
    )
    ensure_ports_free(plan.endpoints)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return plan


class TritonServer:
    """Start, wait for and stop one tritonserver (or mpirun group) as a child process."""

    def __init__(
        self,
        options: ServerOptions,
        *,
        log_file: Path | None = None,
        install: TritonInstall | None = None,
        parallelism: Parallelism | None = None,
        blas_threads: int = 1,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.options = options
        self.log_file = log_file or default_run_dir() / f"tritonserver-{options.http_port}.log"
        self._install = install
        self._parallelism = parallelism
        self._blas_threads = blas_threads
        self._startup_timeout = startup_timeout
        self._on_progress = on_progress
        self._process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @property
    def endpoints(self) -> Endpoints:
        return self.options.endpoints

    @property
    def admin_key(self) -> str | None:
        """Key of the restricted API groups (header `ADMIN_KEY_HEADER`)."""
        return self.options.admin_key

    @property
    def pid(self) -> int | None:
        """Pid (= process group id) of the running server, None when stopped."""
        return None if self._process is None else self._process.pid

    def start(self) -> TritonServer:
        """Start the server and wait until it is ready; raise ServerError otherwise."""
        if self._process is not None:
            raise ServerError(f"this server already runs (pid {self._process.pid}); stop it first")
        plan = prepare_launch(
            self.options,
            log_file=self.log_file,
            install=self._install,
            parallelism=self._parallelism,
            blas_threads=self._blas_threads,
        )
        self._process = spawn_attached(plan)
        try:
            self.startup_seconds = wait_until_ready(
                plan.endpoints.http_url,
                metrics_url=plan.endpoints.metrics_url,
                exit_code=self._process.poll,
                log_file=self.log_file,
                timeout=self._startup_timeout,
                on_progress=self._on_progress,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for the server to exit; its exit code (`-signum` after
        a signal), None while it runs."""
        if self._process is None:
            raise ServerError("this server is not running; start it first")
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, *, interrupt_timeout: float = 30.0) -> None:
        """Stop the server and everything in its process group; no-op when not running."""
        process = self._process
        if process is None:
            return
        stop_group(process.pid, interrupt_timeout=interrupt_timeout, reap_leader=False)
        process.wait()
        self._process = None

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- spawning: attached to this process, or detached ----------------------------------------------

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


# --- processes and process groups through /proc (Linux), and stopping a group ---------------------

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
