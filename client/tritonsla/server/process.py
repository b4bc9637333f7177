"""`TritonServer`: a tritonserver child process as a context manager.

    with TritonServer(ServerOptions(model_repository=repo, http_port=port, ...)) as server:
        client = tritonclient.http.InferenceServerClient(server.endpoints.http_address)

The server runs as the leader of its own process group (its Python backend stubs are in it),
dies with its parent (Linux), and `stop()` (SIGINT, wait, SIGTERM, SIGKILL to the group) leaves
no process behind; it is safe to call twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from tritonsla.errors import ServerError
from tritonsla.server.binary import TritonInstall, find_tritonserver
from tritonsla.server.command import Parallelism, ServerOptions
from tritonsla.server.launch import LaunchPlan, plan_launch
from tritonsla.server.locations import default_run_dir
from tritonsla.server.ports import Endpoints, ensure_ports_free
from tritonsla.server.procfs import stop_group
from tritonsla.server.spawn import spawn_attached
from tritonsla.server.startup import ProgressHook, wait_until_ready

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
