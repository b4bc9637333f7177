"""The `tritonsla` command: one module per subcommand, each with add_parser() and a handler.

`run(argv)` returns the exit status and lets unexpected errors raise (tests call it); a command
line argparse refuses raises UsageError rather than exiting. `main()` turns expected errors
(TritonSlaError, and OSError: a path or port the user named) into one `error:` line and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from rich.console import Console

from tritonsla import __version__
from tritonsla.cli import (
    assets_cmd,
    bench_cmd,
    demo_cmd,
    engines_cmd,
    gateway_cmd,
    generate_cmd,
    monitor_cmd,
    plan_cmd,
    render_cmd,
    serve_cmd,
)
from tritonsla.cli.options import UsageError
from tritonsla.errors import TritonSlaError

SUBCOMMANDS = (
    render_cmd,
    assets_cmd,
    serve_cmd,
    generate_cmd,
    gateway_cmd,
    monitor_cmd,
    bench_cmd,
    plan_cmd,
    demo_cmd,
    engines_cmd,
)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise UsageError (subcommand parsers are Parsers too)."""

    def error(self, message: str) -> NoReturn:
        """Raise the problem with the flag it names and where help is, as one line."""
        raise UsageError(f"{self.prog}: {message}; see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = Parser(
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
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        prog = f"tritonsla {args.command}"
        raise UsageError(f"{prog}: unrecognized arguments: {' '.join(extra)}; see `{prog} --help`")
    return args.handler(args, console or Console())


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    console = Console(stderr=True)
    try:
        return run(argv)
    except (TritonSlaError, OSError) as error:
        console.print("[bold red]error:[/bold red] ", end="")
        console.print(str(error), markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
