"""`tritonsla assets`: make the default CPU model (tokenizer + GPT-2 weights) locally."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from tritonsla.assets import DEFAULT_FOLDER, write_default_model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `assets`."""
    parser = subparsers.add_parser(
        "assets", help="create the default CPU model (nothing is downloaded)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_FOLDER, help="model folder")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the --out folder even when it holds files tritonsla did not write there",
    )
    parser.set_defaults(handler=run_assets)


def run_assets(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla assets`."""
    made = write_default_model(args.out, force=args.force)
    console.print(f"{args.out}: {'created' if made else 'up to date'}")
    return 0
