"""Detached servers for the CLI (`tritonsla serve / stop / status`).

A detached server outlives the command that started it. What is needed to find, query and stop
it later is kept in `<run dir>/server.json` (written atomically, mode 0600: it holds the key of
the restricted API groups); its log is `<run dir>/tritonserver.log`. State whose
process is gone (or whose pid now belongs to another process) is stale and removed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonsla.errors import ServerError
from tritonsla.server.command import Parallelism, ServerOptions
from tritonsla.server.install import TritonInstall, default_run_dir
from tritonsla.server.ports import Endpoints
from tritonsla.server.probe import (
    ModelEntry,
    ProgressHook,
    is_ready,
    repository_index,
    wait_until_ready,
)
from tritonsla.server.process import (
    DEFAULT_STARTUP_TIMEOUT,
    child_exit_code,
    prepare_launch,
    process_alive,
    read_stat,
    spawn_detached,
    stop_group,
)

STATE_FILE_NAME = "server.json"
LOG_FILE_NAME = "tritonserver.log"


@dataclass(frozen=True)
class ServerState:
    """A detached server as recorded in its state file."""

    pid: int
    pgid: int
    start_ticks: int
    endpoints: Endpoints
    model_repository: Path
    log_file: Path
    admin_key: str | None
    started_at: float
    """Unix time of the start."""
    argv: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "pgid": self.pgid,
            "start_ticks": self.start_ticks,
            "address": self.endpoints.address,
            "http_port": self.endpoints.http_port,
            "grpc_port": self.endpoints.grpc_port,
            "metrics_port": self.endpoints.metrics_port,
            "model_repository": str(self.model_repository),
            "log_file": str(self.log_file),
            "admin_key": self.admin_key,
            "started_at": self.started_at,
            "argv": list(self.argv),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerState:
        return cls(
            pid=data["pid"],
            pgid=data["pgid"],
            start_ticks=data["start_ticks"],
            endpoints=Endpoints(
                data["address"], data["http_port"], data["grpc_port"], data["metrics_port"]
            ),
            model_repository=Path(data["model_repository"]),
            log_file=Path(data["log_file"]),
            admin_key=data["admin_key"],
            started_at=data["started_at"],
            argv=tuple(data["argv"]),
        )

    @property
    def running(self) -> bool:
        """True while the recorded process (same pid, same start time) is alive."""
        return process_alive(self.pid, self.start_ticks)


@dataclass(frozen=True)
class ServerStatus:
    """What `read_status` found in a run dir."""

    state: ServerState | None
    """The running server, None when none runs."""
    ready: bool = False
    models: tuple[ModelEntry, ...] = ()
    """The repository index: every model the server knows, loaded or not."""
    stale_removed: bool = False
    """A state file of a server that no longer runs was found and removed."""
    problem: str = ""
    """Why the models could not be listed, when they could not."""

    @property
    def running(self) -> bool:
        return self.state is not None

    @property
    def loaded_models(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.models if entry.state == "READY")


def state_path(run_dir: Path) -> Path:
    return run_dir / STATE_FILE_NAME


def write_state(path: Path, state: ServerState) -> None:
    """Write `state` to `path` atomically, readable by this user only."""
    write_private(path, json.dumps(state.to_json(), indent=2))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (temporary file in the same folder, then rename), with
    mode 0600: the file may hold the key of the restricted APIs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> ServerState | None:
    """The state recorded in `path`, None when there is no such file."""
    try:
        data = json.loads(path.read_text())
        return ServerState.from_json(data)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise ServerError(
            f"{path} is not a valid server state file ({error!r}); delete it if no server runs"
        ) from None


def _live_state(run_dir: Path) -> tuple[ServerState | None, bool]:
    """The running server of `run_dir`, and whether a stale state file was removed."""
    path = state_path(run_dir)
    state = read_state(path)
    if state is None:
        return None, False
    if state.running:
        return state, False
    path.unlink(missing_ok=True)
    return None, True


def start_detached(
    options: ServerOptions,
    *,
    run_dir: Path | None = None,
    install: TritonInstall | None = None,
    parallelism: Parallelism | None = None,
    blas_threads: int = 1,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    on_progress: ProgressHook | None = None,
) -> ServerState:
    """Start a server that outlives this process, wait until ready, record it in `run_dir`."""
    run_dir = run_dir or default_run_dir()
    running, _ = _live_state(run_dir)
    if running is not None:
        raise ServerError(
            f"a server started from {run_dir} already runs (pid {running.pid}, "
            f"{running.endpoints.http_url}); stop it with `tritonsla stop` or use another run dir"
        )
    plan = prepare_launch(
        options,
        log_file=run_dir / LOG_FILE_NAME,
        install=install,
        parallelism=parallelism,
        blas_threads=blas_threads,
    )
    started_at = time.time()
    pid = spawn_detached(plan)
    try:
        wait_until_ready(
            plan.endpoints.http_url,
            metrics_url=plan.endpoints.metrics_url,
            exit_code=lambda: child_exit_code(pid),
            log_file=plan.log_file,
            timeout=startup_timeout,
            on_progress=on_progress,
        )
        stat = read_stat(pid)
        if stat is None:
            raise ServerError(f"tritonserver (pid {pid}) vanished right after becoming ready")
        state = ServerState(
            pid=pid,
            pgid=stat.pgid,
            start_ticks=stat.start_ticks,
            endpoints=plan.endpoints,
            model_repository=plan.model_repository,
            log_file=plan.log_file,
            admin_key=plan.admin_key,
            started_at=started_at,
            argv=plan.argv,
        )
        write_state(state_path(run_dir), state)
    except BaseException:
        stop_group(pid)
        raise
    return state


def stop_detached(
    run_dir: Path | None = None, *, interrupt_timeout: float = 30.0
) -> ServerState | None:
    """Stop the server recorded in `run_dir` and remove its state; return what was stopped.

    None when no server was running (a stale state file is removed all the same).
    """
    run_dir = run_dir or default_run_dir()
    state, _ = _live_state(run_dir)
    if state is None:
        return None
    stop_group(state.pgid, interrupt_timeout=interrupt_timeout)
    state_path(run_dir).unlink(missing_ok=True)
    return state


def read_status(run_dir: Path | None = None) -> ServerStatus:
    """Whether the server of `run_dir` runs, is ready, and which models it knows."""
    state, stale_removed = _live_state(run_dir or default_run_dir())
    if state is None:
        return ServerStatus(state=None, stale_removed=stale_removed)
    ready = is_ready(state.endpoints.http_url)
    try:
        models = tuple(repository_index(state.endpoints.http_url, state.admin_key))
    except ServerError as error:
        return ServerStatus(state=state, ready=ready, problem=str(error))
    return ServerStatus(state=state, ready=ready, models=models)
