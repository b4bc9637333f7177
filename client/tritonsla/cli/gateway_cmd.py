"""`tritonsla gateway`: the OpenAI-compatible HTTP server in front of a deployment's router.

Reads the same deploy and profile files as every other command (`--deploy`, `--set`);
`--replica` (repeatable) replaces the deploy file's servers. The API key, when wanted, comes
from the environment variable TRITONSLA_API_KEY, never from the command line.
"""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from tritonsla.cli.options import add_deployment_options, port, replica_source
from tritonsla.gateway import API_KEY_ENV, create_app, serve
from tritonsla.gateway.runner import DEFAULT_HOST, DEFAULT_PORT
from tritonsla.profiles.loading import load_deployment


def add_gateway_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """`--host` and `--port` of the gateway (`--gateway-host`... with prefix `gateway-`)."""
    parser.add_argument(
        f"--{prefix}host", default=DEFAULT_HOST, help=f"listen address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        f"--{prefix}port", type=port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}"
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `gateway` and its flags."""
    parser = subparsers.add_parser(
        "gateway",
        help="serve the OpenAI API (/v1/completions, /v1/chat/completions) over the SLA router",
        description="An OpenAI-compatible HTTP server routing every request to its SLA class. "
        f"Set {API_KEY_ENV} in the environment to require `Authorization: Bearer <key>`.",
    )
    add_deployment_options(parser)
    add_gateway_options(parser)
    parser.add_argument(
        "--replica",
        dest="replicas",
        action="append",
        type=replica_source,
        metavar="[CLASS=]HOST:GRPC_PORT",
        help="a tritonserver to route to: host:port, or [class,...=]host:port or "
        "[class=]dns:///name:port (re-resolved) for the classes it serves; repeatable; "
        "default: the deploy file's servers",
    )
    parser.set_defaults(handler=run_gateway)


def api_key() -> str | None:
    """The key from the environment; None (no key needed) when unset or empty."""
    return os.environ.get(API_KEY_ENV) or None


def run_gateway(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla gateway`: serve until Ctrl-C or SIGTERM."""
    deployment = load_deployment(args.deploy, args.sets)
    key = api_key()
    app = create_app(deployment, replicas=args.replicas, api_key=key)
    auth = f"API key required ({API_KEY_ENV})" if key else f"no API key ({API_KEY_ENV} unset)"
    console.print(
        f"gateway of {deployment.deploy.name} on http://{args.host}:{args.port}/v1 "
        f"(classes: {', '.join(deployment.profiles)}; {auth}); Ctrl-C stops it",
        highlight=False,
    )
    serve(app, args.host, args.port)
    return 0
