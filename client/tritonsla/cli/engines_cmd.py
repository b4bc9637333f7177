"""`tritonsla engines`: compile a TensorRT-LLM engine per SLA profile (or say none is needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla.cli.options import add_deployment_options
from tritonsla.engines.plan import plan_engines
from tritonsla.engines.runner import Outcome, run_plans
from tritonsla.engines.steps import script
from tritonsla.engines.tools import EXAMPLES_ENV, resolve_toolchain
from tritonsla.errors import ConfigErrors
from tritonsla.profiles.loading import load_deployment
from tritonsla.profiles.rules import check_deployment
from tritonsla.repo.pipeline import output_rules, render


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `engines` and its flags."""
    parser = subparsers.add_parser(
        "engines",
        help="build a TensorRT-LLM engine (trt-engine) or ModelOpt checkpoint (llmapi) per "
        "SLA profile",
        description="Plan and build each profile's engine: checkpoint conversion or fp8 "
        "quantization, then trtllm-build, into <engines_dir>/<profile>/. llmapi deployments get "
        "a ModelOpt checkpoint per quantized precision (fp8, int8 SmoothQuant, int4 AWQ) in "
        "<engines_dir>/_checkpoints/hf-<format>/. Unchanged outputs are skipped (manifest); a "
        "failed build leaves the previous one in place. cpu deployments have no compile step: "
        "the command checks what they load.",
    )
    add_deployment_options(parser, "batch.engine.max_num_tokens=16384")
    parser.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        default=[],
        metavar="NAME",
        help="build only this profile (repeatable; default: every profile of the deploy file)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the exact commands and build nothing"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild even up-to-date engines, and replace engine and --out-repo folders "
        "that tritonsla did not write",
    )
    parser.add_argument(
        "--examples-dir",
        type=Path,
        default=None,
        help=f"TensorRT-LLM's examples/ folder (convert scripts); default: ${EXAMPLES_ENV}",
    )
    parser.add_argument(
        "--out-repo",
        type=Path,
        default=None,
        help="after building, render the model repository into this folder (e.g. model_repo)",
    )
    parser.set_defaults(handler=run_engines)


def _outcomes_table(outcomes: list[Outcome]) -> Table:
    table = Table("profile", "status", "detail")
    for outcome in outcomes:
        table.add_row(outcome.profile, outcome.status, outcome.detail)
    return table


def run_engines(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla engines`; returns the exit status."""
    dep = load_deployment(args.deploy, args.sets)
    problems = check_deployment(dep) + (output_rules(dep, args.out_repo) if args.out_repo else [])
    if problems:
        raise ConfigErrors(problems)
    tools = resolve_toolchain(dep, args.examples_dir)
    plans = plan_engines(dep, tools, args.profiles)
    if args.dry_run:
        console.print(script(plans), end="", markup=False, highlight=False, soft_wrap=True)
        return 0
    outcomes = run_plans(dep, plans, tools, console, force=args.force)
    console.print(_outcomes_table(outcomes))
    if args.out_repo:
        result = render(args.deploy, args.out_repo, sets=args.sets, force=args.force)
        models = sum(1 for path in result.plan if path.endswith("config.pbtxt"))
        console.print(f"Rendered {models} models against the engines into {args.out_repo}")
    return 0
