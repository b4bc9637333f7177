"""`tritonsla plan`: replicas per class from a forecast and measurements, checked by simulation.

Exit status 0 when the simulation predicts every measured run within 25% and the planned
replicas meet every SLO at the forecast; 1 otherwise (the tables say where).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla.cli.options import add_deployment_options, non_negative_float, positive_float
from tritonsla.plan.check import TOLERANCE
from tritonsla.plan.forecast import load_forecast
from tritonsla.plan.measurements import ClassRun, read_capacity, read_class_runs
from tritonsla.plan.output import plan_json, write_json
from tritonsla.plan.planner import Plan, make_plan
from tritonsla.profiles.loading import load_deployment


def class_file(text: str) -> tuple[str, Path]:
    """`CLASS=FILE`."""
    sla, sep, path = text.partition("=")
    if not sep or not sla or not path:
        raise argparse.ArgumentTypeError(
            f"expected CLASS=FILE, e.g. realtime=run.json, got {text!r}"
        )
    return sla, Path(path)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `plan` and its flags."""
    parser = subparsers.add_parser(
        "plan",
        help="replicas, GPUs and HPA bounds per SLA class from a traffic forecast",
        description="Size each SLA class from a forecast and its measured per-replica capacity, "
        "and check the plan with a discrete-event simulation calibrated on bench runs of the "
        "class alone (closed loop at concurrency 1 and N; open-loop runs to check the model).",
    )
    add_deployment_options(parser)
    parser.add_argument("--forecast", type=Path, required=True, help="forecast YAML")
    parser.add_argument(
        "--measurements",
        type=class_file,
        action="append",
        default=[],
        metavar="CLASS=SUMMARY.json",
        help="a bench JSON of the class alone (repeatable, every class)",
    )
    parser.add_argument(
        "--capacity",
        type=class_file,
        action="append",
        default=[],
        metavar="CLASS=CAPACITY.json",
        help="the class's capacity per replica from `bench --capacity --mix CLASS=1` (default: "
        "the highest measured open-loop rate that met the SLO)",
    )
    parser.add_argument("--headroom", type=non_negative_float, help="replaces the forecast's")
    parser.add_argument(
        "--peak-factor",
        type=positive_float,
        default=2.0,
        help="HPA maximum: this many times the planned load (default 2)",
    )
    parser.add_argument(
        "--sim-seconds",
        type=positive_float,
        default=120.0,
        help="simulated seconds of arrivals per check (default 120)",
    )
    parser.add_argument("--out", type=Path, help="write the plan as JSON here")
    parser.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla plan`."""
    dep = load_deployment(args.deploy, args.sets)
    forecast = load_forecast(args.forecast, list(dep.profiles))
    runs: dict[str, list[ClassRun]] = {}
    for sla, path in args.measurements:
        runs.setdefault(sla, []).extend(read_class_runs(path, sla))
    capacities = {sla: (read_capacity(path), path) for sla, path in args.capacity}
    plan = make_plan(
        dep,
        forecast,
        runs,
        capacities,
        headroom=args.headroom,
        peak_factor=args.peak_factor,
        seconds=args.sim_seconds,
    )
    print_plan(plan, console)
    if args.out is not None:
        write_json(args.out, plan_json(plan))
        console.print(f"Plan written to {args.out}")
    return 0 if plan.ok else 1


def print_plan(plan: Plan, console: Console) -> None:
    engines = Table(title="Engine model per class (fitted to closed-loop runs)")
    columns = ("class", "slots", "step ms", "+ ms per sequence", "+ ms per prompt token")
    for column in (*columns, "delay ms"):
        engines.add_column(column)
    checks = Table(title=f"Simulation against measurements (must be within {TOLERANCE:.0%})")
    for column in ("class", "run", "metric", "measured", "simulated", "error"):
        checks.add_column(column)
    plans = Table(title=f"Plan at {plan.total_rps:g} req/s, headroom {plan.headroom:.0%}")
    columns = ("class", "req/s", "capacity/replica", "simulated capacity", "replicas")
    for column in (*columns, "HPA min-max", "GPUs"):
        plans.add_column(column)
    plans.add_column("simulated vs SLO")
    for result in plan.classes:
        p, m = result.plan, result.model
        engines.add_row(
            p.sla,
            str(m.slots),
            f"{m.step_ms:.1f}",
            f"{m.per_seq_ms:.2f}",
            f"{m.prefill_ms_per_token:.3f}",
            f"{m.delay_ms:.1f}",
        )
        for c in result.comparisons:
            checks.add_row(
                p.sla,
                c.load,
                c.metric,
                f"{c.measured_ms:.0f} ms",
                f"{c.simulated_ms:.0f} ms",
                f"{'' if c.within else '[red]'}{c.error:.0%}",
            )
        verdicts = ", ".join(
            f"{metric} {_ms(result.simulated.get(metric))} / {limit:g}"
            for metric, limit in result.limits.items()
        )
        plans.add_row(
            p.sla,
            f"{p.forecast_rps:g}",
            f"{p.capacity_rps:.2f} ({p.capacity_source})",
            f"{result.simulated_capacity_rps:.2f}",
            str(p.replicas),
            f"{p.min_replicas}-{p.max_replicas}",
            str(p.gpus),
            f"{verdicts} {'holds' if result.holds else '[red]misses'}",
        )
    console.print(engines, checks, plans)
    console.print(f"GPUs in total: {plan.gpus}")
    if not all(r.trusted for r in plan.classes):
        console.print("[red]The simulation does not match the measurements: plan not trusted.")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
