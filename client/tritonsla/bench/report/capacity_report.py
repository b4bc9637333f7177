"""A capacity search as JSON, as console tables (rich), and as a bench report of its probes.

capacity.json (`capacity_to_json`): the capacity, the reason, the settings and every probe in
order: rate, offered and served rates, goodput, per-class p95 and verdicts, drift, flags,
reasons and its run's summary (per-request records go to requests.csv of the bench report).
Non-finite numbers (a p95 decided by failed requests) are written as null.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tritonsla import __version__
from tritonsla.bench.benchmark import PreparedBench, notes_of, settings_of
from tritonsla.bench.capacity import CapacityResult, Drift, Probe
from tritonsla.bench.records import BenchReport
from tritonsla.bench.report.json_report import run_document

FORMAT = "tritonsla-capacity/1"
_METRIC = {"ttft_ms": "TTFT", "itl_ms": "ITL", "e2e_ms": "E2E"}


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _drift_document(item: Drift) -> dict[str, Any]:
    return {
        "sla": item.sla,
        "metric": item.metric,
        "first_p95_ms": _finite(item.first_p95_ms),
        "last_p95_ms": _finite(item.last_p95_ms),
        "limit_ms": _finite(item.limit_ms),
        "drifted": item.drifted,
    }


def probe_document(probe: Probe) -> dict[str, Any]:
    """One probe as JSON-ready data."""
    return {
        "rate_rps": probe.rate,
        "attempt": probe.attempt,
        "offered_rps": probe.offered_rps,
        "served_rps": probe.served_rps,
        "goodput_rps": probe.goodput_rps,
        "slo_met": probe.slo_met,
        "sustained": probe.sustained,
        "below_floor": probe.below_floor,
        "stopped_early": probe.stopped_early,
        "duration_s": probe.duration_s,
        "verdicts": probe.verdicts,
        "p95_ms": {
            sla: {key: _finite(value) for key, value in values.items()}
            for sla, values in probe.p95_ms.items()
        },
        "drift": [_drift_document(item) for item in probe.drift],
        "reasons": list(probe.reasons),
        "run": None if probe.run is None else run_document(probe.run),
    }


def _index(result: CapacityResult, probe: Probe | None) -> int | None:
    return None if probe is None else result.probes.index(probe)


def capacity_to_json(result: CapacityResult) -> dict[str, Any]:
    """The whole search as JSON-ready data; probes are referred to by their index."""
    return {
        "format": FORMAT,
        "tool": f"tritonsla {__version__}",
        "capacity_rps": result.capacity_rps,
        "offered_capacity_rps": result.offered_capacity_rps,
        "capacity_probe": _index(result, result.capacity_probe),
        "limiting_probe": _index(result, result.limiting),
        "reason": result.reason,
        "settings": dataclasses.asdict(result.settings),
        "probes": [probe_document(probe) for probe in result.probes],
    }


def write_capacity_json(result: CapacityResult, path: Path, bench: dict[str, Any]) -> Path:
    """Write capacity.json; `bench` is the benchmark's settings (deploy, mix, objectives, …)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**capacity_to_json(result), "bench": bench}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def capacity_report(prepared: PreparedBench, result: CapacityResult) -> BenchReport:
    """The probes' runs as a bench report (summary.json, CSVs, plots via `write_report`)."""
    runs = tuple(probe.run for probe in result.probes if probe.run is not None)
    settings = {**settings_of(prepared), "loads": [run.name for run in runs]}
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    notes = (*notes_of(prepared), f"capacity search: {result.reason}")
    return BenchReport(settings, runs, started, notes)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def outcome(probe: Probe) -> str:
    """MET, FAIL or LOW (only throughput floors missed: too little load), with rich markup."""
    if probe.slo_met:
        return "[bold green]MET[/]"
    return "[yellow]LOW[/]" if probe.below_floor else "[bold red]FAIL[/]"


def _classes(probe: Probe) -> str:
    parts = []
    for sla, passed in probe.verdicts.items():
        p95 = probe.p95_ms.get(sla, {})
        shown = " ".join(
            f"{_METRIC[key]} {value:,.0f}" for key, value in p95.items() if value is not None
        )
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "-"}[passed]
        parts.append(f"{mark} {sla} {shown}")
    return "\n".join(parts)


def probe_line(number: int, probe: Probe) -> str:
    """One line (then its reasons) for a probe as it completes."""
    served = probe.served_rps
    share = "" if not (served and probe.offered_rps) else f" ({served / probe.offered_rps:.0%})"
    again = f" (arrival draw {probe.attempt + 1})" if probe.attempt else ""
    head = (
        f"probe {number}: {probe.rate:g} req/s{again} → offered {_rate(probe.offered_rps)}, served "
        f"{_rate(served)}{share}, goodput {_rate(probe.goodput_rps)} req/s, "
        f"{probe.duration_s:.1f} s: {outcome(probe)}"
    )
    return "\n".join([head, *(f"  - {reason}" for reason in probe.reasons)])


def capacity_table(result: CapacityResult) -> Table:
    """Every probe in order, with per-class p95 (ms) and verdicts."""
    table = Table(title="capacity search: every probe, in order", title_justify="left")
    for column in ("#", "rate", "draw", "offered", "served", "goodput", "result", "s"):
        table.add_column(column, justify="right")
    table.add_column("class p95 ms", justify="left")
    table.add_column("why not", justify="left", overflow="fold")
    for number, probe in enumerate(result.probes, 1):
        table.add_row(
            str(number),
            f"{probe.rate:g}",
            str(probe.attempt + 1),
            _rate(probe.offered_rps),
            _rate(probe.served_rps),
            _rate(probe.goodput_rps),
            outcome(probe),
            f"{probe.duration_s:.1f}",
            _classes(probe),
            "\n".join(probe.reasons),
        )
    return table


def print_capacity(console: Console, result: CapacityResult) -> None:
    """The table of probes, then the capacity and why."""
    console.print(capacity_table(result))
    style = "bold green" if result.capacity_rps > 0 else "bold red"
    console.print(
        f"[{style}]capacity: Poisson rate {result.capacity_rps:g} req/s, "
        f"{result.offered_capacity_rps:.2f} req/s offered as drawn[/] — {result.reason}",
        highlight=False,
    )
