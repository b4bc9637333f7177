"""A launch plan: everything needed to start one server, computed without side effects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tritonsla.server.binary import TritonInstall
from tritonsla.server.command import Parallelism, ServerOptions, server_argv
from tritonsla.server.environment import server_environment
from tritonsla.server.ports import Endpoints


@dataclass(frozen=True)
class LaunchPlan:
    """argv, environment and files of one server start."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    endpoints: Endpoints
    admin_key: str | None
    model_repository: Path
    log_file: Path
    """Receives the server's stdout and stderr (tritonserver logs to stderr)."""


def plan_launch(
    options: ServerOptions,
    install: TritonInstall,
    *,
    log_file: Path,
    base_env: Mapping[str, str],
    python_bin: Path,
    parallelism: Parallelism | None = None,
    blas_threads: int = 1,
) -> LaunchPlan:
    """Plan a start of `install` serving `options`; see `server_environment` for the env."""
    argv = server_argv(
        options,
        executable=install.executable,
        backend_directory=install.backend_directory,
        parallelism=parallelism,
    )
    env = server_environment(
        base_env,
        python_bin=python_bin,
        library_dirs=install.library_dirs,
        blas_threads=blas_threads,
    )
    return LaunchPlan(
        argv=tuple(argv),
        env=env,
        endpoints=options.endpoints,
        admin_key=options.admin_key,
        model_repository=options.model_repository,
        log_file=log_file,
    )
