"""`tritonsla demo`: the main job — SLA endpoints against one endpoint, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla.demo.compare import LoadComparison, Side
from tritonsla.demo.run import DemoOptions, run_demo


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    defaults = DemoOptions()
    parser = subparsers.add_parser(
        "demo",
        help="serve the CPU deployment, run mixed traffic through the router, and compare it "
        "with one one-size-fits-all endpoint",
    )
    parser.add_argument("--out", type=Path, default=defaults.out, help="report folder")
    parser.add_argument(
        "--rates",
        default=",".join(f"{r:g}" for r in defaults.rates),
        help="offered loads in requests/s (Poisson), comma-separated",
    )
    parser.add_argument(
        "--requests", type=int, default=defaults.requests, help="measured requests per load"
    )
    parser.add_argument("--warmup-requests", type=int, default=defaults.warmup_requests)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.set_defaults(handler=run_demo_cmd)


def _cell(side: Side) -> str:
    verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "-"}[side.passed]
    return f"{verdict} {side.goodput_rps:.2f}/s"


def comparison_table(comparison: LoadComparison) -> Table:
    """Per class: verdict and goodput of both setups, and their judged tail latencies."""
    table = Table(title=f"{comparison.load}: SLA endpoints vs one endpoint")
    for column in (
        "class",
        "SLA endpoints",
        "one endpoint",
        "TTFT p95 ms (SLA / one)",
        "e2e p95 ms (SLA / one)",
    ):
        table.add_column(column, justify="left" if column == "class" else "right")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    for row in comparison.rows:
        table.add_row(
            row.sla,
            _cell(row.routed),
            _cell(row.single),
            f"{ms(row.routed.ttft_p95_ms)} / {ms(row.single.ttft_p95_ms)}",
            f"{ms(row.routed.e2e_p95_ms)} / {ms(row.single.e2e_p95_ms)}",
        )
    table.add_row(
        "[b]goodput[/b]",
        f"{comparison.routed_goodput:.2f}/s",
        f"{comparison.single_goodput:.2f}/s",
        "",
        "",
    )
    return table


def run_demo_cmd(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla demo`."""
    rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    options = DemoOptions(
        out=args.out,
        rates=rates,
        requests=args.requests,
        warmup_requests=args.warmup_requests,
        seed=args.seed,
    )
    result = run_demo(options, console)
    for comparison in result.comparisons:
        console.print(comparison_table(comparison))
    for line in result.conclusion:
        console.print(f"- {line}", highlight=False)
    console.print(f"report: {result.out / 'index.html'}")
    return 0
