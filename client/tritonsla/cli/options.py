"""Options shared by subcommands, and argparse types whose errors say what to pass instead.

A type function raises argparse.ArgumentTypeError with the expected form and the value given;
argparse prefixes the flag (`argument --deadline: ...`) and `main` prints it on one line.
"""

from __future__ import annotations

import argparse
import math
import urllib.parse
from pathlib import Path

from tritonsla.errors import TritonSlaError
from tritonsla.routing.discovery import ReplicaSource
from tritonsla.routing.table import Replica

DEFAULT_DEPLOY = Path("deploy/cpu.yaml")
DEFAULT_REPO = Path("model_repo")


class UsageError(TritonSlaError):
    """A command line that argparse refused: a flag, its problem and where help is."""


def add_deployment_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    example: str = "realtime.batching.max_batch_size=2",
) -> None:
    """`--deploy FILE` and repeatable `--set PROFILE.FIELD=VALUE` (dest `sets`)."""
    parser.add_argument("--deploy", type=Path, default=DEFAULT_DEPLOY, help="deploy file")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PROFILE.FIELD=VALUE",
        help=f"override a profile value, e.g. {example} (repeatable)",
    )


def _number(text: str, kind: type[int] | type[float], expected: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = int(_number(text, int, "a whole number >= 1"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    value = int(_number(text, int, "a whole number >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port: 0 (any free port) to 65535."""
    value = int(_number(text, int, "a port from 0 to 65535"))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, float, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _number(text, float, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number within [0, 1]."""
    value = _number(text, float, "a number from 0 to 1")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def replica_address(text: str) -> str:
    """A server's gRPC address, `host:port`."""
    try:
        Replica.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected host:grpc_port, e.g. 127.0.0.1:8001, got {text!r}"
        ) from None
    return text


def replica_source(text: str) -> str:
    """A replica to route to: `host:port`, or `[class,...=]host:port` / `[class,...=]dns:///
    name:port` (classes it serves; a DNS name re-resolved, see tritonsla.routing.discovery)."""
    try:
        ReplicaSource.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected host:grpc_port or [class=]dns:///name:grpc_port, e.g. "
            f"realtime=dns:///realtime.llm.svc.cluster.local:8001, got {text!r}"
        ) from None
    return text


def http_url(text: str) -> str:
    """An http(s) URL with a host."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"expected an http URL, e.g. http://127.0.0.1:8002/metrics, got {text!r}"
        )
    return text
