"""`tritonsla monitor`: a live view of a running deployment, per SLA class.

Reads the gateway's `/metrics` and Triton's metrics port every `--interval` seconds and shows,
over the last `--window` seconds: requests/s, output tokens/s, TTFT and inter-token latency
p50/p95 and end-to-end p95 against each class's SLO (from the deploy and profile files), failed
requests, in-flight requests (gateway), requests queued in Triton and waiting/active in the
engine. `--once` prints one snapshot over one window instead (`--json` for scripts).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

from rich.console import Console
from rich.live import Live

from tritonsla.cli.options import UsageError, add_deployment_options, http_url, positive_float
from tritonsla.monitor.live import Watch, snapshot, views
from tritonsla.monitor.screen import monitor_screen
from tritonsla.monitor.sources import MetricsEndpoint, metrics_url, scrape
from tritonsla.monitor.view import MonitorView, class_specs, view_to_json
from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.server.ports import Endpoints

DEFAULT_GATEWAY = "http://127.0.0.1:9000"

EPILOG = """\
examples:
  tritonsla monitor                                   # deploy/cpu.yaml, gateway on :9000
  tritonsla monitor --gateway-url http://10.0.0.5:9000 --metrics-url http://10.0.0.5:8002
  tritonsla monitor --once --json --window 5          # one snapshot of the next 5 s
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `monitor` and its flags."""
    parser = subparsers.add_parser(
        "monitor",
        help="live per-class rates, latency percentiles against the SLO, queues",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_deployment_options(parser)
    parser.add_argument(
        "--gateway-url", type=http_url, default=DEFAULT_GATEWAY, metavar="URL",
        help=f"the gateway (its /metrics is read; default: {DEFAULT_GATEWAY})",
    )  # fmt: skip
    parser.add_argument(
        "--no-gateway", action="store_true", help="read Triton's metrics only (no rates)"
    )
    parser.add_argument(
        "--metrics-url", dest="metrics_urls", action="append", default=[], type=http_url,
        metavar="URL",
        help="a Triton metrics endpoint (repeatable; default: the deploy file's server)",
    )  # fmt: skip
    parser.add_argument(
        "--window", type=positive_float, default=10.0, metavar="S",
        help="seconds the rates and percentiles cover (default: 10)",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=positive_float, default=1.0, metavar="S",
        help="seconds between scrapes and screen updates (default: 1)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=positive_float, metavar="S",
        help="stop after this long (default: until Ctrl-C)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=positive_float, default=2.0, metavar="S",
        help="per-endpoint read timeout (default: 2)",
    )  # fmt: skip
    parser.add_argument(
        "--once", action="store_true", help="print one snapshot over one --window and exit"
    )
    parser.add_argument("--json", action="store_true", help="with --once: the snapshot as JSON")
    parser.set_defaults(handler=run_monitor)


def endpoints_of(args: argparse.Namespace, deployment: Deployment) -> list[MetricsEndpoint]:
    """The gateway (unless --no-gateway), then the Triton servers."""
    found = []
    if not args.no_gateway:
        found.append(MetricsEndpoint("gateway", metrics_url(args.gateway_url)))
    urls = args.metrics_urls
    if not urls:
        server = deployment.deploy.server
        ports = Endpoints(server.host, server.http_port, server.grpc_port, server.metrics_port)
        urls = [ports.metrics_url]
    found += [MetricsEndpoint("triton", metrics_url(url)) for url in urls]
    return found


def _status(view: MonitorView) -> int:
    """1 when no endpoint could be read, else 0."""
    return 1 if view.sources and all(s.error for s in view.sources) else 0


def run_monitor(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla monitor`; returns the exit status."""
    if args.json and not args.once:
        raise UsageError("tritonsla monitor: --json needs --once (one snapshot for scripts)")
    deployment = load_deployment(args.deploy, list(args.sets))
    watch = Watch(deployment.deploy.name, class_specs(deployment), args.window, args.interval)
    scraper = partial(scrape, endpoints_of(args, deployment), args.timeout)
    if args.once:
        view = snapshot(watch, scraper)
        if args.json:
            sys.stdout.write(json.dumps(view_to_json(view), indent=2) + "\n")
        else:
            console.print(monitor_screen(view))
        return _status(view)
    ticks = None if args.duration is None else max(1, round(args.duration / args.interval))
    view = None
    with Live(console=console, auto_refresh=False) as live:
        for view in views(watch, scraper, ticks):
            live.update(monitor_screen(view), refresh=True)
    return 0 if view is None else _status(view)
