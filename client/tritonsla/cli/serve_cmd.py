"""`tritonsla serve | stop | status`: run tritonserver on a deployment's rendered repository.

`serve` renders the deployment into the repository when it is stale (render is cheap and
atomic), starts the right tritonserver (on PATH, else the bundled one) detached on the chosen
ports, waits for readiness and prints the endpoints. `--foreground` keeps it attached until
Ctrl-C instead. `stop` stops it with no orphan processes; `status` reports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import threading
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla import contract
from tritonsla.cli.options import DEFAULT_REPO, add_deployment_options
from tritonsla.profiles.loading import Deployment
from tritonsla.repo.pipeline import render
from tritonsla.server import (
    Endpoints,
    Parallelism,
    ServerOptions,
    TritonServer,
    read_status,
    start_detached,
    startup_spinner,
    stop_detached,
)
from tritonsla.server.locations import default_run_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve`, `stop` and `status`."""
    serve = subparsers.add_parser(
        "serve", help="start tritonserver on the deployment's repository (127.0.0.1 by default)"
    )
    add_deployment_options(serve)
    serve.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="model repository folder")
    serve.add_argument("--host", help="listen address (default: deploy server.host)")
    serve.add_argument("--http-port", type=int, help="default: deploy server.http_port")
    serve.add_argument("--grpc-port", type=int, help="default: deploy server.grpc_port")
    serve.add_argument("--metrics-port", type=int, help="default: deploy server.metrics_port")
    serve.add_argument(
        "--open-model-control",
        action="store_true",
        help="leave the model-repository API unrestricted (default: key needed)",
    )
    serve.add_argument(
        "--foreground", action="store_true", help="stay attached; Ctrl-C stops the server"
    )
    serve.add_argument("--startup-timeout", type=float, default=300.0, help="seconds")
    serve.add_argument("--run-dir", type=Path, default=None, help="where state and log live")
    serve.set_defaults(handler=run_serve)

    stop = subparsers.add_parser("stop", help="stop the server started by `tritonsla serve`")
    stop.add_argument("--run-dir", type=Path, default=None)
    stop.set_defaults(handler=run_stop)

    status = subparsers.add_parser("status", help="is the server up, where, which models")
    status.add_argument("--run-dir", type=Path, default=None)
    status.set_defaults(handler=run_status)


def server_options(dep: Deployment, repo: Path, args: argparse.Namespace) -> ServerOptions:
    """ServerOptions from the deploy file's `server` section and the command-line overrides."""
    server = dep.deploy.server
    options = ServerOptions(
        model_repository=repo.resolve(),
        address=args.host or server.host,
        http_port=server.http_port if args.http_port is None else args.http_port,
        grpc_port=server.grpc_port if args.grpc_port is None else args.grpc_port,
        metrics_port=server.metrics_port if args.metrics_port is None else args.metrics_port,
    )
    if args.open_model_control:
        options = dataclasses.replace(options, admin_key=None)
    return options


def parallelism(dep: Deployment) -> Parallelism | None:
    """MPI ranks for trt-engine deployments with tp x pp > 1 (one rank per GPU)."""
    hw = dep.deploy.hardware
    if dep.deploy.engine_kind != "trt-engine" or hw.tensor_parallel * hw.pipeline_parallel == 1:
        return None
    engines = tuple(contract.model_name(n, "tensorrt_llm") for n in dep.profiles)
    return Parallelism(hw.tensor_parallel, hw.pipeline_parallel, engine_models=engines)


def print_endpoints(console: Console, endpoints: Endpoints, dep: Deployment) -> None:
    """The URLs and the model of each SLA endpoint."""
    table = Table(title=f"{dep.deploy.name}: tritonserver ready", show_header=True)
    table.add_column("SLA class")
    table.add_column("ensemble")
    table.add_column("BLS (priority + deadline)")
    for name in dep.profiles:
        table.add_row(
            name,
            contract.model_name(name, "ensemble"),
            contract.model_name(name, "tensorrt_llm_bls"),
        )
    console.print(table)
    console.print(
        f"HTTP {endpoints.http_url}  gRPC {endpoints.grpc_address}  metrics {endpoints.metrics_url}"
    )


def run_serve(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla serve`."""
    result = render(args.deploy, args.repo, sets=args.sets, check=True)
    if result.diff:
        render(args.deploy, args.repo, sets=args.sets)
        console.print(f"re-rendered {args.repo} (it was stale)")
    dep = result.deployment
    options = server_options(dep, args.repo, args)
    blas = dep.deploy.hardware.blas_threads_per_engine
    with startup_spinner(f"starting tritonserver on {args.repo}", console) as hook:
        if args.foreground:
            log_file = (args.run_dir or default_run_dir()) / "tritonserver-foreground.log"
            server = TritonServer(
                options,
                log_file=log_file,
                parallelism=parallelism(dep),
                blas_threads=blas,
                startup_timeout=args.startup_timeout,
                on_progress=hook,
            )
            server.start()
        else:
            state = start_detached(
                options,
                run_dir=args.run_dir,
                parallelism=parallelism(dep),
                blas_threads=blas,
                startup_timeout=args.startup_timeout,
                on_progress=hook,
            )
    print_endpoints(console, options.endpoints, dep)
    if not args.foreground:
        console.print(f"log: {state.log_file}; stop with `tritonsla stop`")
        return 0
    console.print(f"log: {log_file}; Ctrl-C stops the server")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def run_stop(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla stop`."""
    state = stop_detached(args.run_dir)
    if state is None:
        console.print("no server was running")
        return 0
    console.print(f"stopped tritonserver (pid {state.pid}, {state.endpoints.http_url})")
    return 0


def run_status(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla status`: exit 0 when a ready server runs, 1 otherwise."""
    status = read_status(args.run_dir)
    if not status.running:
        console.print(
            "not running" + (" (removed a stale state file)" if status.stale_removed else "")
        )
        return 1
    state = status.state
    console.print(
        f"running: pid {state.pid}, {'ready' if status.ready else 'NOT ready'}, "
        f"HTTP {state.endpoints.http_url}, gRPC {state.endpoints.grpc_address}, "
        f"repository {state.model_repository}, log {state.log_file}"
    )
    if status.problem:
        console.print(f"models: unknown ({status.problem})")
    for entry in status.models:
        console.print(f"  {entry.name}: {entry.state}")
    return 0 if status.ready else 1
