"""The `tritonsla` command: one module per subcommand, each with add_parser() and a handler.

`run(argv)` returns the exit status and lets unexpected errors raise (tests call it);
`main()` turns expected errors (TritonSlaError) into a message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from tritonsla import __version__
from tritonsla.cli import (
    assets_cmd,
    bench_cmd,
    demo_cmd,
    engines_cmd,
    generate_cmd,
    render_cmd,
    serve_cmd,
)
from tritonsla.errors import TritonSlaError

SUBCOMMANDS = (
    render_cmd,
    assets_cmd,
    serve_cmd,
    generate_cmd,
    bench_cmd,
    demo_cmd,
    engines_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="tritonsla",
        description="SLA-aware Triton model repositories and clients for TensorRT-LLM.",
    )
    parser.add_argument("--version", action="version", version=f"tritonsla {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def run(argv: list[str] | None = None, console: Console | None = None) -> int:
    """Parse `argv` and run the subcommand; expected failures raise TritonSlaError."""
    args = build_parser().parse_args(argv)
    return args.handler(args, console or Console())


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    console = Console(stderr=True)
    try:
        return run(argv)
    except TritonSlaError as error:
        console.print("[bold red]error:[/bold red] ", end="")
        console.print(str(error), markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
