"""`tritonsla serve | stop | status`: run tritonserver on a deployment's rendered repository.

`serve` renders the deployment into its own repository folder when it is stale (render is cheap
and atomic; see `render_cmd.default_repo`), starts the right tritonserver (on PATH, else the
bundled one) detached on the chosen ports, waits for readiness and prints the endpoints.
`--foreground` keeps it attached until Ctrl-C or SIGTERM instead, and exits with the server's
status (128 + signal number after a signal) when tritonserver dies on its own. `--gateway` also
serves the OpenAI-compatible gateway (`tritonsla gateway`) beside it, attached: the two stop
together. `stop` stops it with no orphan processes; `status` reports it.
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
from tritonsla.cli.gateway_cmd import add_gateway_options, api_key
from tritonsla.cli.options import add_deployment_options, port, positive_float
from tritonsla.cli.render_cmd import add_force_option, default_repo
from tritonsla.gateway import GatewayThread, create_app
from tritonsla.profiles.loading import Deployment
from tritonsla.repo.pipeline import render
from tritonsla.routing import Replica
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
from tritonsla.server.command import ADMIN_KEY_HEADER, exposure_warning
from tritonsla.server.install import default_run_dir
from tritonsla.server.probe import failure_report
from tritonsla.server.state import write_private

POLL_SECONDS = 0.5
"""How often `serve --foreground` checks that tritonserver still runs."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve`, `stop` and `status`."""
    serve = subparsers.add_parser(
        "serve", help="start tritonserver on the deployment's repository (127.0.0.1 by default)"
    )
    add_deployment_options(serve)
    serve.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="model repository folder (default: model_repo for deploy/cpu.yaml without --set, "
        "else .cache/repos/<deploy file name>)",
    )
    add_force_option(serve, "the --repo folder")
    serve.add_argument("--host", help="listen address (default: deploy server.host)")
    serve.add_argument("--http-port", type=port, help="default: deploy server.http_port")
    serve.add_argument("--grpc-port", type=port, help="default: deploy server.grpc_port")
    serve.add_argument("--metrics-port", type=port, help="default: deploy server.metrics_port")
    serve.add_argument(
        "--open-model-control",
        action="store_true",
        help="leave the model-repository API unrestricted (default: key needed; beyond "
        "loopback the model-config, shared-memory, trace and logging APIs need it too)",
    )
    serve.add_argument(
        "--foreground",
        action="store_true",
        help="stay attached; Ctrl-C stops the server; exit with the server's status if it dies",
    )
    serve.add_argument("--startup-timeout", type=positive_float, default=300.0, help="seconds")
    serve.add_argument(
        "--gateway",
        action="store_true",
        help="also serve the OpenAI-compatible gateway (as `tritonsla gateway`; API key from "
        "TRITONSLA_API_KEY); implies --foreground: Ctrl-C or SIGTERM stops both",
    )
    add_gateway_options(serve, "gateway-")
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
        kept = tuple(api for api in options.restricted if api != "model-repository")
        options = dataclasses.replace(
            options, restricted_apis=kept, admin_key=options.admin_key if kept else None
        )
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
    repo = args.repo or default_repo(args.deploy, args.sets)
    result = render(args.deploy, repo, sets=args.sets, check=True)
    if result.diff:
        render(args.deploy, repo, sets=args.sets, force=args.force)
        console.print(f"rendered {args.deploy} into {repo} (it was missing or stale)")
    dep = result.deployment
    options = server_options(dep, repo, args)
    warning = exposure_warning(options)
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    blas = dep.deploy.hardware.blas_threads_per_engine
    run_dir = args.run_dir or default_run_dir()
    with startup_spinner(f"starting tritonserver on {repo}", console) as hook:
        if args.foreground or args.gateway:
            log_file = run_dir / "tritonserver-foreground.log"
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
                run_dir=run_dir,
                parallelism=parallelism(dep),
                blas_threads=blas,
                startup_timeout=args.startup_timeout,
                on_progress=hook,
            )
    print_endpoints(console, options.endpoints, dep)
    console.print(f"repository: {repo}", highlight=False)
    if args.gateway:
        return run_foreground(server, run_dir, console, start_gateway(server, dep, args, console))
    if not args.foreground:
        if options.restricted:
            console.print(key_line(options, f"`admin_key` in {run_dir / 'server.json'}"))
        console.print(f"log: {state.log_file}; stop with `tritonsla stop`")
        return 0
    return run_foreground(server, run_dir, console)


def key_line(options: ServerOptions, where: str) -> str:
    """Where the key of the restricted API groups is, and which groups need it."""
    return (
        f"key of the restricted APIs ({', '.join(options.restricted)}): {where}, "
        f"sent as header `{ADMIN_KEY_HEADER}`"
    )


def start_gateway(
    server: TritonServer, dep: Deployment, args: argparse.Namespace, console: Console
) -> GatewayThread:
    """The gateway beside `server`, routing to it; the server is stopped if it cannot start."""
    endpoints = server.options.endpoints
    replica = Replica(endpoints.grpc_address, endpoints.metrics_url)
    try:
        app = create_app(dep, replicas=[replica], api_key=api_key())
        gateway = GatewayThread(app, args.gateway_host, args.gateway_port)
        gateway.start()
    except BaseException:
        server.stop()
        raise
    console.print(f"gateway: {gateway.url}/v1 (OpenAI API; metrics {gateway.url}/metrics)")
    return gateway


def run_foreground(
    server: TritonServer, run_dir: Path, console: Console, gateway: GatewayThread | None = None
) -> int:
    """Stay attached until Ctrl-C or SIGTERM (exit 0) or until tritonserver dies on its own:
    then print the tail of its log and exit with its status (128 + signal after a signal).
    With a `gateway`, both stop together; a gateway that dies stops the server (exit 1)."""
    key_file = run_dir / "tritonserver-foreground.key"
    if server.options.restricted:
        write_private(key_file, f"{server.admin_key}\n")
        console.print(key_line(server.options, f"in {key_file}"), highlight=False)
    console.print(f"log: {server.log_file}; Ctrl-C stops the server")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    code = None
    try:
        while code is None and not stopped.is_set():
            code = server.wait(POLL_SECONDS)
            if gateway is not None and not gateway.alive():
                console.print("the gateway stopped on its own; stopping tritonserver")
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        if gateway is not None:
            gateway.stop()
        server.stop()
        key_file.unlink(missing_ok=True)
    if code is None:
        return 0
    cause = f" (signal {-code}, {signal.strsignal(-code)})" if code < 0 else ""
    console.print(
        f"tritonserver exited with code {code}{cause} while serving. "
        f"{failure_report(server.log_file)}",
        markup=False,
        highlight=False,
    )
    return exit_status(code)


def exit_status(code: int) -> int:
    """The status `serve --foreground` exits with after tritonserver exited with `code`: the
    same code, 128 + signal number after a signal (as a shell reports it), 1 after a clean exit
    nobody asked for."""
    if code < 0:
        return 128 - code
    return code or 1


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
