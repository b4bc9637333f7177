"""`tritonsla render`: deploy + profiles -> Triton model repository (or --check it is current)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.console import Console

from tritonsla.cli.options import (
    DEFAULT_DEPLOY,
    DEFAULT_REPO,
    UsageError,
    add_deployment_options,
)
from tritonsla.k8s.render import render_k8s
from tritonsla.plan.output import read_bounds
from tritonsla.repo.pipeline import load_and_check, render

CACHE_REPOS = Path(".cache/repos")
"""Where deploy files other than the default one render unless told otherwise."""
CACHE_K8S = Path(".cache/k8s")
"""Where Kubernetes manifests render unless told otherwise."""


def default_repo(deploy_file: Path, sets: list[str]) -> Path:
    """The repository folder of `deploy_file`: model_repo/ (committed) for the default deploy
    file as it is, .cache/repos/<file name without .yaml>/ for any other or with `--set` values,
    so serving or rendering one never rewrites the committed repository."""
    if deploy_file.resolve() == DEFAULT_DEPLOY.resolve() and not sets:
        return DEFAULT_REPO
    return CACHE_REPOS / deploy_file.stem


def add_force_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--force`: replace `what` even when it holds files tritonsla did not write."""
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"replace {what} even when it holds files tritonsla did not write there (or "
        "another deploy file's repository)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `render` and its flags."""
    parser = subparsers.add_parser(
        "render",
        help="render the Triton model repository from a deploy file and its profiles",
        description="Render deploy + profiles into a Triton model repository. Writes atomically: "
        "a failed render leaves the previous repository in place. Replaces only a folder that "
        "is missing, empty or rendered from the same deploy file (marker .tritonsla-output), "
        "unless --force.",
    )
    add_deployment_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output repository folder (default: {DEFAULT_REPO} for {DEFAULT_DEPLOY} without "
        f"--set, else {CACHE_REPOS}/<deploy file name>)",
    )
    add_force_option(parser, "the --out folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 with a diff when the repository on disk is stale",
    )
    parser.add_argument(
        "--target",
        choices=("triton", "k8s"),
        default="triton",
        help="triton: the model repository (default); k8s: Kubernetes manifests of the deploy "
        f"file (default --out {CACHE_K8S}/<deploy file name>)",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        help="with --target k8s: HPA replica bounds from `tritonsla plan --out` instead of the "
        "deploy file's",
    )
    parser.add_argument(
        "--show-values",
        action="store_true",
        help="print the merged profile values of every endpoint and exit",
    )
    parser.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla render`; returns the exit status."""
    if args.target == "k8s":
        return run_render_k8s(args, console)
    out = args.out or default_repo(args.deploy, args.sets)
    if args.show_values:
        dep = load_and_check(args.deploy, out, args.sets)
        values = {name: p.model_dump(mode="json") for name, p in dep.profiles.items()}
        console.print(yaml.safe_dump(values, sort_keys=False), end="", markup=False)
        return 0
    result = render(args.deploy, out, sets=args.sets, check=args.check, force=args.force)
    models = sum(1 for path in result.plan if path.endswith("config.pbtxt"))
    if args.check:
        if result.diff:
            console.print("".join(result.diff), end="", markup=False, highlight=False)
            console.print(
                f"[red]{out} is stale[/red]: run `tritonsla render --deploy {args.deploy} "
                f"--out {out}` and commit the result."
            )
            return 1
        console.print(f"{out} is up to date ({models} models).")
        return 0
    endpoints = ", ".join(result.deployment.profiles)
    console.print(
        f"Rendered {models} models for {endpoints} "
        f"({result.deployment.deploy.engine_kind}) into {out}"
    )
    return 0


def run_render_k8s(args: argparse.Namespace, console: Console) -> int:
    """`render --target k8s`: write the deploy file's Kubernetes manifests."""
    if args.check or args.show_values:
        flag = "--check" if args.check else "--show-values"
        raise UsageError(f"tritonsla render: {flag} applies to --target triton only")
    out = args.out or CACHE_K8S / args.deploy.stem
    bounds = read_bounds(args.plan) if args.plan is not None else None
    result = render_k8s(args.deploy, out, sets=args.sets, bounds=bounds, force=args.force)
    objects = sum(len(objs) for objs in result.manifests.objects.values())
    classes = ", ".join(
        f"{c.sla} ({c.min_replicas}-{c.max_replicas} replicas on {c.signal})"
        for c in result.spec.classes
    )
    console.print(f"Rendered {objects} Kubernetes objects into {out}: {classes}")
    console.print(f"Manifests {result.schema_note}; apply with `kubectl apply -f {out}`.")
    return 0
