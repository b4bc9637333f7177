"""`tritonsla demo`: the main job — which topology meets the SLOs at the highest load."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla.cli.options import non_negative_int, positive_float
from tritonsla.demo.compare import TopologyResult
from tritonsla.demo.run import DemoOptions, run_demo


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    defaults = DemoOptions()
    parser = subparsers.add_parser(
        "demo",
        help="find the SLO capacity of three topologies of the CPU model at equal compute "
        "(dedicated engines, one shared engine by priority, one plain endpoint) and compare",
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="report folder")
    parser.add_argument(
        "--start-rps",
        type=positive_float,
        default=defaults.capacity.start_rps,
        help="rate the first capacity search starts at (later ones at the highest capacity so far)",
    )
    parser.add_argument(
        "--probe-seconds",
        type=positive_float,
        default=defaults.capacity.probe_seconds,
        help="seconds of Poisson arrivals per probe",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=defaults.seed, help="workload seed"
    )
    parser.add_argument(
        "--allow-unequal-compute",
        action="store_true",
        help="compare topologies whose stated budgets (cores, slots, KV tokens) differ",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even when it is not an earlier demo report",
    )
    parser.set_defaults(handler=run_demo_cmd)


def parity_table(results: list[TopologyResult]) -> Table:
    """The compute each topology ran on, and its SLO capacity."""
    table = Table(title="Topologies at equal compute: SLO capacity")
    for column in (
        "topology",
        "cores",
        "engines x BLAS threads",
        "in-flight slots",
        "KV tokens",
        "SLO capacity req/s",
    ):
        table.add_column(column, justify="left" if column == "topology" else "right")
    for r in results:
        b = r.parity.budget
        table.add_row(
            f"{r.name} ({r.title})",
            str(b.cores),
            f"{b.engine_instances} x {b.blas_threads_per_engine}",
            str(b.inflight_slots),
            f"{b.kv_tokens:,}",
            f"[bold]{r.slo_capacity_rps:.2f}[/bold]",
        )
    return table


def run_demo_cmd(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla demo`."""
    defaults = DemoOptions()
    capacity = replace(
        defaults.capacity, start_rps=args.start_rps, probe_seconds=args.probe_seconds
    )
    options = replace(
        defaults,
        out=args.out,
        capacity=capacity,
        seed=args.seed,
        allow_unequal_compute=args.allow_unequal_compute,
        force=args.force,
    )
    result = run_demo(options, console)
    console.print(parity_table(result.results))
    for line in result.conclusion:
        console.print(f"- {line}", highlight=False)
    console.print(f"report: {result.out / 'index.html'}")
    return 0
