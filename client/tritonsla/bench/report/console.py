"""Console tables (rich) of runs: per class with verdicts, per endpoint, server side, sweep."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from tritonsla.bench.metrics import Distribution, GroupMetrics
from tritonsla.bench.records import RunResult
from tritonsla.bench.verdict import Check, Verdict

_VERDICT = {True: "[bold green]PASS[/]", False: "[bold red]FAIL[/]", None: "[dim]-[/]"}


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "∞"
    return f"{value:,.{digits}f}"


def _pcts(dist: Distribution | None, *stats: str) -> str:
    if dist is None:
        return "-"
    return " / ".join(
        _num(getattr(dist, stat), 0 if getattr(dist, stat) >= 100 else 1) for stat in stats
    )


def _counts(metrics: GroupMetrics) -> str:
    c = metrics.counts
    text = f"{c.ok}/{c.total}"
    if c.error:
        text += f" [red]{c.error} err[/]"
    if c.incomplete:
        text += f" [yellow]{c.incomplete} inc[/]"
    return text


def check_text(sla: str, check: Check) -> str:
    """One objective term in words, e.g. `realtime: ttft_ms p95 612.0 <= 500.0 FAIL`."""
    where = f" p{check.percentile:g}" if check.percentile is not None else ""
    sign = ">=" if check.metric == "output_tokens_per_s" else "<="
    word = "ok" if check.passed else "FAIL"
    note = f" ({check.note})" if check.note else ""
    return (
        f"{sla}: {check.metric}{where} {_num(check.measured)} {sign} {_num(check.threshold)} "
        f"{word}{note}"
    )


def class_table(run: RunResult) -> Table:
    """Per class (with verdict) and the whole run."""
    summary = run.summary
    table = Table(title=f"{run.name}: per SLA class", title_justify="left")
    for column in ("class", "SLO", "ok/total", "req/s", "out tok/s", "goodput r/s"):
        table.add_column(column, justify="left" if column == "class" else "right")
    table.add_column("TTFT ms p50/p95/p99", justify="right")
    table.add_column("ITL ms p50/p95", justify="right")
    table.add_column("E2E ms p50/p95/p99", justify="right")
    rows: list[tuple[str, GroupMetrics, Verdict | None]] = [
        (name, metrics, summary.verdicts.get(name)) for name, metrics in summary.classes.items()
    ]
    rows.append(("all", summary.overall, None))
    for name, metrics, verdict in rows:
        passed = summary.passed if verdict is None else verdict.passed
        table.add_row(
            f"[bold]{name}[/]" if verdict is None else name,
            _VERDICT[passed],
            _counts(metrics),
            _num(metrics.requests_per_s, 2),
            _num(metrics.output_tokens_per_s),
            _num(metrics.goodput_rps, 2),
            _pcts(metrics.ttft_ms, "p50", "p95", "p99"),
            _pcts(metrics.itl_ms, "p50", "p95"),
            _pcts(metrics.e2e_ms, "p50", "p95", "p99"),
        )
    return table


def endpoint_table(run: RunResult) -> Table:
    """Per Triton model that answered."""
    table = Table(title=f"{run.name}: per endpoint", title_justify="left")
    for column in ("endpoint", "ok/total", "req/s", "out tok/s", "TTFT ms p95", "E2E ms p95"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, metrics in run.summary.endpoints.items():
        table.add_row(
            name,
            _counts(metrics),
            _num(metrics.requests_per_s, 2),
            _num(metrics.output_tokens_per_s),
            _pcts(metrics.ttft_ms, "p95"),
            _pcts(metrics.e2e_ms, "p95"),
        )
    return table


def server_table(run: RunResult) -> Table:
    """Statistics API deltas of every model that worked during the run."""
    table = Table(title=f"{run.name}: server side (statistics API)", title_justify="left")
    columns = ("server", "model", "requests", "fail", "execs", "mean batch", "queue ms", "infer ms")
    for column in columns:
        table.add_column(column, justify="left" if column in ("server", "model") else "right")
    for server in run.servers:
        for model in server.models:
            table.add_row(
                server.address,
                model.model,
                str(model.success),
                str(model.fail),
                str(model.executions),
                _num(model.mean_batch, 2),
                _num(model.queue_ms, 2),
                _num(model.compute_infer_ms, 2),
            )
    return table


def sweep_table(runs: Sequence[RunResult]) -> Table:
    """One row per load level of a sweep."""
    table = Table(title="sweep: latency vs throughput", title_justify="left")
    for column in ("load", "SLO", "req/s", "out tok/s", "goodput r/s"):
        table.add_column(column, justify="left" if column == "load" else "right")
    table.add_column("TTFT ms p50/p99", justify="right")
    table.add_column("E2E ms p50/p99", justify="right")
    for run in runs:
        overall = run.summary.overall
        table.add_row(
            run.name,
            _VERDICT[run.summary.passed],
            _num(overall.requests_per_s, 2),
            _num(overall.output_tokens_per_s),
            _num(overall.goodput_rps, 2),
            _pcts(overall.ttft_ms, "p50", "p99"),
            _pcts(overall.e2e_ms, "p50", "p99"),
        )
    return table


def print_run(console: Console, run: RunResult, *, details: bool = True) -> None:
    """Tables of one run, its failed objective terms and its self-check."""
    console.print(class_table(run))
    for sla, verdict in run.summary.verdicts.items():
        for check in verdict.checks:
            if not check.passed:
                console.print(f"  [red]✗[/] {check_text(sla, check)}", highlight=False)
    if details:
        console.print(endpoint_table(run))
        if any(server.models for server in run.servers):
            console.print(server_table(run))
    if run.server_error:
        console.print(f"[yellow]server statistics unavailable:[/] {run.server_error}")
    errors = run.summary.overall.errors
    if errors:
        listed = ", ".join(f"{kind}: {count}" for kind, count in errors.items())
        console.print(f"errors by kind: {listed}", highlight=False)
    schedule = run.summary.schedule
    style = "green" if schedule.kept else "bold yellow"
    console.print(f"[{style}]self-check:[/] {schedule.message}", highlight=False)


def print_report(console: Console, runs: Sequence[RunResult]) -> None:
    """Every run, then the sweep table when there are several."""
    for run in runs:
        print_run(console, run)
    if len(runs) > 1:
        console.print(sweep_table(runs))
