"""Start, stop and inspect a real tritonserver.

- `TritonServer`: a child server as a context manager (tests, benchmarks).
- `start_detached` / `stop_detached` / `read_status`: a background server for the CLI, recorded
  in a state file under a run dir.
- `find_tritonserver`: tritonserver on PATH, else the one bundled in nvidia-pytriton.
- `ServerOptions` / `Parallelism` → `server_argv`: the command line, as data.
"""

from tritonsla.server.binary import TritonInstall, find_tritonserver
from tritonsla.server.command import (
    ADMIN_KEY_HEADER,
    GRPC_ADMIN_KEY_HEADER,
    Parallelism,
    ServerOptions,
    mpirun_argv,
    restricted_headers,
    server_argv,
    tritonserver_argv,
)
from tritonsla.server.ports import Endpoints, free_ports
from tritonsla.server.probe import ModelEntry
from tritonsla.server.process import TritonServer
from tritonsla.server.progress import startup_spinner
from tritonsla.server.state import (
    ServerState,
    ServerStatus,
    read_status,
    start_detached,
    stop_detached,
)

__all__ = [
    "ADMIN_KEY_HEADER",
    "GRPC_ADMIN_KEY_HEADER",
    "Endpoints",
    "ModelEntry",
    "Parallelism",
    "ServerOptions",
    "ServerState",
    "ServerStatus",
    "TritonInstall",
    "TritonServer",
    "find_tritonserver",
    "free_ports",
    "mpirun_argv",
    "read_status",
    "restricted_headers",
    "server_argv",
    "start_detached",
    "startup_spinner",
    "stop_detached",
    "tritonserver_argv",
]
