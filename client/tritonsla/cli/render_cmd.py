"""`tritonsla render`: deploy + profiles -> Triton model repository (or --check it is current)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.console import Console

from tritonsla.cli.options import DEFAULT_REPO, add_deployment_options
from tritonsla.repo.pipeline import load_and_check, render


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `render` and its flags."""
    parser = subparsers.add_parser(
        "render",
        help="render the Triton model repository from a deploy file and its profiles",
        description="Render deploy + profiles into a Triton model repository. Writes atomically: "
        "a failed render leaves the previous repository in place.",
    )
    add_deployment_options(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_REPO, help="output repository folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 with a diff when the repository on disk is stale",
    )
    parser.add_argument(
        "--show-values",
        action="store_true",
        help="print the merged profile values of every endpoint and exit",
    )
    parser.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla render`; returns the exit status."""
    if args.show_values:
        dep = load_and_check(args.deploy, args.out, args.sets)
        values = {name: p.model_dump(mode="json") for name, p in dep.profiles.items()}
        console.print(yaml.safe_dump(values, sort_keys=False), end="", markup=False)
        return 0
    result = render(args.deploy, args.out, sets=args.sets, check=args.check)
    models = sum(1 for path in result.plan if path.endswith("config.pbtxt"))
    if args.check:
        if result.diff:
            console.print("".join(result.diff), end="", markup=False, highlight=False)
            console.print(
                f"[red]{args.out} is stale[/red]: run `tritonsla render --deploy {args.deploy} "
                f"--out {args.out}` and commit the result."
            )
            return 1
        console.print(f"{args.out} is up to date ({models} models).")
        return 0
    endpoints = ", ".join(result.deployment.profiles)
    console.print(
        f"Rendered {models} models for {endpoints} "
        f"({result.deployment.deploy.engine_kind}) into {args.out}"
    )
    return 0
