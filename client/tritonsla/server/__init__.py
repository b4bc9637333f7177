"""Start, stop and inspect a real tritonserver.

Modules, one question each:
- `install`: where tritonserver is (PATH, else bundled in nvidia-pytriton) and the cache folders.
- `command`: `ServerOptions` / `Parallelism` → argv, environment and launch plan, as data.
- `ports`: `Endpoints` (address and ports, URLs), free-port picking, busy-port checks.
- `probe`: readiness, the repository index, waiting for a start (`startup_spinner`).
- `process`: `TritonServer`, a child server as a context manager; spawning; process groups.
- `state`: `start_detached` / `stop_detached` / `read_status`: a background server for the CLI,
  recorded in a state file under a run dir.

The names below are importable from this package; each loads its module on first use, so
importing one light module (the client needs only `ports.Endpoints`) does not load the launcher.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "command": (
        "ADMIN_KEY_HEADER",
        "GRPC_ADMIN_KEY_HEADER",
        "Parallelism",
        "ServerOptions",
        "mpirun_argv",
        "restricted_headers",
        "server_argv",
        "tritonserver_argv",
    ),
    "install": ("TritonInstall", "find_tritonserver"),
    "ports": ("Endpoints", "free_ports"),
    "probe": ("ModelEntry", "startup_spinner"),
    "process": ("TritonServer",),
    "state": ("ServerState", "ServerStatus", "read_status", "start_detached", "stop_detached"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """Load the module that defines `name` on first access (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
