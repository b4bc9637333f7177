"""How one tritonserver starts, as data: its command line, its environment and the launch plan.

- argv: tritonserver and mpirun command lines, built as `list[str]` from typed options. Flag names
  and value formats are those of tritonserver 2.51 (`tritonserver --help`). Every flag is one
  `--name=value` token, so no value is ever split or re-joined, and falsy values (port 0,
  `--log-verbose=0`, `false`) are written out, never dropped. No `--log-file`: the launcher
  captures the server's console (tritonserver logs to stderr), Python models' prints included.
- environment (pure: parent env in, new env out): LD_LIBRARY_PATH starts with the install's
  library folders (the wheel's nvidia_pytriton.libs); PATH starts with the folder of the running
  Python, because the Python backend stub takes its prefix, and so the venv's packages, from the
  `python3` it finds on PATH (use the folder of `sys.executable` as it is, not resolved:
  resolving a venv's symlink leaves the venv); BLAS thread caps, so several CPU engine
  processes do not oversubscribe the cores.
- `plan_launch`: everything needed to start one server, computed without side effects.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tritonsla.errors import ServerError
from tritonsla.server.install import TritonInstall
from tritonsla.server.ports import Endpoints

ModelControlMode = Literal["none", "explicit"]

ADMIN_KEY_HEADER = "tritonsla-admin-key"
"""HTTP header that unlocks the restricted API groups."""

GRPC_ADMIN_KEY_HEADER = f"triton-grpc-protocol-{ADMIN_KEY_HEADER}"
"""gRPC metadata key for the same: tritonserver prefixes restricted gRPC keys this way."""

TRITON_APIS = (
    "health",
    "metadata",
    "inference",
    "shared-memory",
    "model-config",
    "model-repository",
    "statistics",
    "trace",
    "logging",
)
"""API groups tritonserver 2.51 can restrict (--http-restricted-api, --grpc-restricted-protocol)."""

LOOPBACK_RESTRICTED = ("model-repository",)
"""Restricted on a loopback bind: loading and unloading models (only local users reach it)."""

EXPOSED_RESTRICTED = ("model-repository", "model-config", "shared-memory", "trace", "logging")
"""Restricted on a bind beyond loopback: every group that lets a remote caller change the server
(models, shared-memory regions, trace files, log settings) or read its configuration."""


def new_admin_key() -> str:
    """A random key for the restricted API groups."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ServerOptions:
    """What one tritonserver serves and how; maps 1:1 onto tritonserver flags.

    `admin_key` restricts the API groups `restricted_apis` to requests carrying the header
    `ADMIN_KEY_HEADER: <admin_key>`; a random key is made by default, `None` leaves every group
    open. `restricted_apis` None restricts by bind address: `LOOPBACK_RESTRICTED` on loopback,
    `EXPOSED_RESTRICTED` beyond it. tritonserver takes the key on its command line, which other
    local users can read (`ps`).
    """

    model_repository: Path
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    address: str = "127.0.0.1"
    model_control_mode: ModelControlMode = "none"
    load_models: tuple[str, ...] = ()
    admin_key: str | None = field(default_factory=new_admin_key, repr=False)
    exit_on_error: bool = True
    strict_readiness: bool = True
    disable_auto_complete_config: bool = False
    log_verbose: int | None = None
    restricted_apis: tuple[str, ...] | None = None
    exit_timeout_s: int | None = None
    """`--exit-timeout-secs`: how long a stopping server waits for requests still in flight
    (None: tritonserver's default, 30 s)."""

    def __post_init__(self) -> None:
        if self.model_control_mode not in ("none", "explicit"):
            raise ServerError(
                f"`model_control_mode` is {self.model_control_mode!r}; allowed: 'none', 'explicit'"
            )
        if self.load_models and self.model_control_mode != "explicit":
            raise ServerError(
                "`load_models` is only honoured with `model_control_mode` 'explicit'; "
                "set it, or leave `load_models` empty to load the whole repository"
            )
        if "*" in self.load_models and len(self.load_models) > 1:
            raise ServerError("`load_models`: '*' loads every model and must be the only entry")
        if self.log_verbose is not None and self.log_verbose < 0:
            raise ServerError(f"`log_verbose` is {self.log_verbose}; allowed: 0 or more")
        unknown = sorted(set(self.restricted_apis or ()) - set(TRITON_APIS))
        if unknown:
            raise ServerError(
                f"`restricted_apis` names {', '.join(unknown)}; allowed: {', '.join(TRITON_APIS)}"
            )

    @property
    def loopback(self) -> bool:
        """True when the server listens on a loopback address only."""
        if self.address == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:  # a host name: assume it is reachable from elsewhere
            return False

    @property
    def restricted(self) -> tuple[str, ...]:
        """The API groups that need the key (none without a key)."""
        if self.admin_key is None:
            return ()
        if self.restricted_apis is not None:
            return self.restricted_apis
        return LOOPBACK_RESTRICTED if self.loopback else EXPOSED_RESTRICTED

    @property
    def open_apis(self) -> tuple[str, ...]:
        """The API groups anyone who reaches the HTTP or gRPC port can use."""
        return tuple(api for api in TRITON_APIS if api not in self.restricted)

    @property
    def endpoints(self) -> Endpoints:
        """Where this server listens."""
        return Endpoints(self.address, self.http_port, self.grpc_port, self.metrics_port)


@dataclass(frozen=True)
class Parallelism:
    """Tensor x pipeline parallelism of trt-engine models: one MPI rank per GPU."""

    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    engine_models: tuple[str, ...] = ("tensorrt_llm",)

    def __post_init__(self) -> None:
        if self.tensor_parallel < 1 or self.pipeline_parallel < 1:
            raise ServerError(
                f"`tensor_parallel` x `pipeline_parallel` is {self.tensor_parallel} x "
                f"{self.pipeline_parallel}; both must be 1 or more"
            )
        if not self.engine_models:
            raise ServerError("`engine_models` is empty; name the tensorrt_llm model(s)")

    @property
    def world_size(self) -> int:
        """Number of MPI ranks (= GPUs)."""
        return self.tensor_parallel * self.pipeline_parallel


def _flag(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"--{name}={value}"


def _common_flags(options: ServerOptions, backend_directory: Path | None) -> list[str]:
    argv = [_flag("model-repository", options.model_repository)]
    if backend_directory is not None:
        argv.append(_flag("backend-directory", backend_directory))
    argv += [
        _flag("exit-on-error", options.exit_on_error),
        _flag("strict-readiness", options.strict_readiness),
    ]
    if options.log_verbose is not None:
        argv.append(_flag("log-verbose", options.log_verbose))
    if options.exit_timeout_s is not None:
        argv.append(_flag("exit-timeout-secs", options.exit_timeout_s))
    return argv


def _serving_flags(options: ServerOptions) -> list[str]:
    argv = [
        _flag("http-address", options.address),
        _flag("http-port", options.http_port),
        _flag("grpc-address", options.address),
        _flag("grpc-port", options.grpc_port),
        _flag("metrics-address", options.address),
        _flag("metrics-port", options.metrics_port),
        _flag("model-control-mode", options.model_control_mode),
    ]
    argv += [_flag("load-model", name) for name in options.load_models]
    if options.restricted:
        restriction = f"{','.join(options.restricted)}:{ADMIN_KEY_HEADER}={options.admin_key}"
        argv += [
            _flag("http-restricted-api", restriction),
            _flag("grpc-restricted-protocol", restriction),
        ]
    return argv


def tritonserver_argv(
    options: ServerOptions, *, executable: Path | str, backend_directory: Path | None = None
) -> list[str]:
    """argv of a single tritonserver process."""
    argv = [str(executable), *_common_flags(options, backend_directory)]
    argv += _serving_flags(options)
    if options.disable_auto_complete_config:
        argv.append("--disable-auto-complete-config")
    return argv


def mpirun_argv(
    options: ServerOptions,
    parallelism: Parallelism,
    *,
    executable: Path | str,
    backend_directory: Path | None = None,
    mpirun: str = "mpirun",
) -> list[str]:
    """argv of `mpirun` running one tritonserver per rank, as TensorRT-LLM's launcher does.

    Rank 0 serves HTTP, gRPC and metrics and loads the repository as `options` say; the other
    ranks serve nothing and load only the engine model(s), whose backend joins them to rank 0.
    Each rank gets its own Python-backend shared-memory prefix (`prefix<rank>_`).
    """
    if parallelism.world_size < 2:
        raise ServerError(
            f"world size is {parallelism.world_size}; mpirun is for tp x pp > 1 — "
            "use `tritonserver_argv` for a single process"
        )
    argv = [mpirun, "--allow-run-as-root"]
    for rank in range(parallelism.world_size):
        if rank:
            argv.append(":")
        argv += ["-n", "1", str(executable)]
        argv += _common_flags(options, backend_directory)
        if rank == 0:
            argv += _serving_flags(options)
        else:
            argv += [
                _flag("allow-http", False),
                _flag("allow-grpc", False),
                _flag("allow-metrics", False),
                _flag("model-control-mode", "explicit"),
            ]
            argv += [_flag("load-model", name) for name in parallelism.engine_models]
        argv += [
            "--disable-auto-complete-config",
            _flag("backend-config", f"python,shm-region-prefix-name=prefix{rank}_"),
        ]
    return argv


def server_argv(
    options: ServerOptions,
    *,
    executable: Path | str,
    backend_directory: Path | None = None,
    parallelism: Parallelism | None = None,
) -> list[str]:
    """argv for `options`: mpirun when `parallelism` spans more than one rank, else tritonserver."""
    if parallelism is not None and parallelism.world_size > 1:
        return mpirun_argv(
            options, parallelism, executable=executable, backend_directory=backend_directory
        )
    return tritonserver_argv(options, executable=executable, backend_directory=backend_directory)


def restricted_headers(admin_key: str | None, *, grpc: bool = False) -> dict[str, str]:
    """Headers (HTTP, or gRPC metadata) that unlock the restricted API groups."""
    if admin_key is None:
        return {}
    return {GRPC_ADMIN_KEY_HEADER if grpc else ADMIN_KEY_HEADER: admin_key}


def exposure_warning(options: ServerOptions) -> str | None:
    """What stays open to the network when the server binds beyond loopback; None on loopback."""
    if options.loopback:
        return None
    restricted = ", ".join(options.restricted) or "nothing"
    return (
        f"tritonserver listens on {options.address}, beyond loopback. Open to anyone who reaches "
        f"the HTTP or gRPC port: {', '.join(options.open_apis)}; the metrics port is open too. "
        f"Restricted to holders of the key (header `{ADMIN_KEY_HEADER}`): {restricted}. "
        "tritonserver takes the key on its command line, which other users of this machine can "
        "read (ps); put the server behind an authenticating proxy or firewall for real use"
    )


# --- the environment tritonserver runs in ---------------------------------------------------------

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _prepend(entries: Sequence[Path], current: str | None) -> str:
    first = [str(entry) for entry in entries]
    rest = [item for item in (current or "").split(os.pathsep) if item and item not in first]
    return os.pathsep.join(first + rest)


def server_environment(
    base: Mapping[str, str],
    *,
    python_bin: Path,
    library_dirs: Sequence[Path] = (),
    blas_threads: int = 1,
) -> dict[str, str]:
    """`base` with PATH, LD_LIBRARY_PATH and the BLAS thread caps set for tritonserver."""
    if blas_threads < 1:
        raise ServerError(f"`blas_threads` is {blas_threads}; allowed: 1 or more")
    env = dict(base)
    env["PATH"] = _prepend([python_bin], base.get("PATH"))
    if library_dirs:
        env["LD_LIBRARY_PATH"] = _prepend(library_dirs, base.get("LD_LIBRARY_PATH"))
    for name in BLAS_THREAD_VARIABLES:
        env[name] = str(blas_threads)
    return env


# --- the launch plan: argv, environment and files of one start ------------------------------------


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
