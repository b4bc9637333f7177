"""The monitor's screen: a rich table of a MonitorView (no I/O; the CLI refreshes it).

A latency cell that an objective judges is green when its check passed and red when it
failed; its threshold follows in brackets, with the checked value when that is not the p95
shown (another percentile, or failed requests counted as ∞): `412 (p99 530 ≤500)`.
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tritonsla.monitor.view import Check, ClassView, Latency, MonitorView

VERDICTS = {
    "pass": "[bold green]PASS[/]",
    "fail": "[bold red]FAIL[/]",
    "idle": "[dim]idle[/]",
    "no objective": "[dim]-[/]",
}


def number(value: float | None, digits: int = 1) -> str:
    """`value` for a cell: `-` when unknown, `∞` beyond the buckets or for failures."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "∞"
    if abs(value) >= 100:
        digits = 0
    return f"{value:,.{digits}f}"


def limit(value: float) -> str:
    """An objective's threshold as written in a profile: `500`, `60,000`, `0.5`."""
    return f"{value:,g}"


def _colour(check: Check | None) -> str | None:
    if check is None or check.passed is None:
        return None
    return "green" if check.passed else "red"


def latency_cells(latency: Latency) -> tuple[str, str]:
    """(p50, p95) cells of the answered requests; the p95 cell carries the objective, coloured
    by its check, and the checked value when it differs (another percentile, or failures
    counted as ∞)."""
    p50, p95 = number(latency.p50), number(latency.p95)
    check = latency.check
    if check is None:
        return p50, p95
    if check.percentile == 95 and check.measured == latency.p95:
        text = f"{p95} (≤{limit(check.threshold)})"
    else:
        measured = number(check.measured)
        text = f"{p95} (p{check.percentile:g} {measured} ≤{limit(check.threshold)})"
    colour = _colour(check)
    return p50, f"[{colour}]{text}[/]" if colour else text


def _rate(item: ClassView) -> str:
    text = number(item.output_tokens_per_s)
    check = item.throughput_check
    if check is None:
        return text
    text = f"{text} (≥{limit(check.threshold)})"
    colour = _colour(check)
    return f"[{colour}]{text}[/]" if colour else text


def _engine(item: ClassView) -> str:
    if item.engine is None:
        return "-"
    text = f"{number(item.engine_waiting, 0)} / {number(item.engine_active, 0)}"
    if item.engine_slots is not None:
        text += f" of {number(item.engine_slots, 0)}"
    return f"{text} shared" if item.engine_shared else text


def monitor_table(view: MonitorView) -> Table:
    """One row per class; latencies in ms."""
    window = "waiting for a second scrape" if view.window_s is None else f"{view.window_s:.0f} s"
    title = f"{view.deployment}: last {window} (latencies in ms)"
    table = Table(title=title, title_justify="left")
    table.add_column("class")
    table.add_column("SLO")
    for column in ("req/s", "out tok/s", "TTFT p50", "TTFT p95", "ITL p50", "ITL p95", "E2E p95"):
        table.add_column(column, justify="right")
    for column in ("failed", "in flight", "queued", "engine wait/run"):
        table.add_column(column, justify="right")
    for item in view.classes:
        ttft = latency_cells(item.latencies["ttft_ms"])
        itl = latency_cells(item.latencies["itl_ms"])
        e2e = latency_cells(item.latencies["e2e_ms"])[1]
        failed = f"[red]{item.failed}[/]" if item.failed else "0"
        table.add_row(
            item.name,
            VERDICTS[item.verdict],
            number(item.requests_per_s, 2),
            _rate(item),
            *ttft,
            *itl,
            e2e,
            failed,
            number(item.in_flight, 0),
            number(item.queued, 0),
            _engine(item),
        )
    return table


def monitor_screen(view: MonitorView) -> RenderableType:
    """The table and a line per metrics endpoint that could not be read."""
    problems = [
        Text(f"{source.kind} {source.url}: {source.error}", style="yellow")
        for source in view.sources
        if source.error is not None
    ]
    return Group(monitor_table(view), *problems)
