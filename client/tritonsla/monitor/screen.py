"""The monitor's screen: a rich table of a MonitorView and its objectives (no I/O).

The table shows the answered requests' latencies; a cell that an objective judges is green
when its check passed and red when it failed. Under it, one line per class says each check:
the value checked (at the objective's percentile, failed requests counted as ∞) against the
threshold, e.g. `realtime  FAIL  TTFT p95 ∞ ≤ 200 ✗ · ITL p95 24.2 ≤ 30 ✓`.
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
LABELS = {"ttft_ms": "TTFT", "itl_ms": "ITL", "e2e_ms": "E2E", "output_tokens_per_s": "out tok/s"}


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


def _coloured(text: str, check: Check | None) -> str:
    if check is None or check.passed is None:
        return text
    return f"[{'green' if check.passed else 'red'}]{text}[/]"


def latency_cells(latency: Latency) -> tuple[str, str]:
    """(p50, p95) cells of the answered requests; p95 coloured by the objective's check."""
    return number(latency.p50), _coloured(number(latency.p95), latency.check)


def check_text(check: Check) -> str:
    """One check in words: `TTFT p95 412 ≤ 500 ✓`, `out tok/s 31 ≥ 50 ✗`, `... (idle)`."""
    where = f" p{check.percentile:g}" if check.percentile is not None else ""
    sign = "≥" if check.metric == "output_tokens_per_s" else "≤"
    mark = {True: " ✓", False: " ✗", None: ""}[check.passed]
    text = f"{LABELS[check.metric]}{where} {number(check.measured)} {sign} {limit(check.threshold)}"
    return _coloured(text + mark, check)


def objective_line(item: ClassView) -> str | None:
    """The class's checks on one line; None for a class without objective."""
    checks = [lat.check for lat in item.latencies.values() if lat.check is not None]
    if item.throughput_check is not None:
        checks.append(item.throughput_check)
    if not checks:
        return None
    return f"{item.name}  {VERDICTS[item.verdict]}  " + " · ".join(map(check_text, checks))


def _engine(item: ClassView) -> str:
    if item.engine is None:
        return "-"
    text = f"{number(item.engine_waiting, 0)}/{number(item.engine_active, 0)}"
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
        failed = f"[red]{item.failed}[/]" if item.failed else "0"
        table.add_row(
            item.name,
            VERDICTS[item.verdict],
            number(item.requests_per_s, 2),
            _coloured(number(item.output_tokens_per_s), item.throughput_check),
            *latency_cells(item.latencies["ttft_ms"]),
            *latency_cells(item.latencies["itl_ms"]),
            latency_cells(item.latencies["e2e_ms"])[1],
            failed,
            number(item.in_flight, 0),
            number(item.queued, 0),
            _engine(item),
        )
    return table


def monitor_screen(view: MonitorView) -> RenderableType:
    """The table, each class's objective checks, and each metrics endpoint that failed."""
    lines = [Text.from_markup(line) for item in view.classes if (line := objective_line(item))]
    problems = [
        Text(f"{source.kind} {source.url}: {source.error}", style="yellow")
        for source in view.sources
        if source.error is not None
    ]
    return Group(monitor_table(view), *lines, *problems)
