"""Options shared by subcommands that read a deployment."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DEPLOY = Path("deploy/cpu.yaml")
DEFAULT_REPO = Path("model_repo")


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
