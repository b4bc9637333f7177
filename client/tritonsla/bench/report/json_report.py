"""JSON export of a BenchReport: settings, notes and every run's summary and server deltas.

Per-request records go to CSV, not here. Non-finite numbers (a percentile decided by failed
requests) are written as null. `read_json` gives the report back, records left empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from tritonsla import __version__
from tritonsla.bench.records import BenchReport, RunResult
from tritonsla.bench.server_stats import ServerDelta
from tritonsla.bench.summary import RunSummary

FORMAT = "tritonsla-bench/1"

_SUMMARY = TypeAdapter(RunSummary)
_SERVERS = TypeAdapter(tuple[ServerDelta, ...])


def run_document(run: RunResult) -> dict[str, Any]:
    """One run's summary and server deltas as JSON-ready data (records left out)."""
    return {
        "name": run.name,
        "summary": json.loads(_SUMMARY.dump_json(run.summary)),
        "servers": json.loads(_SERVERS.dump_json(run.servers)),
        "server_error": run.server_error,
    }


def report_document(report: BenchReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    runs = [run_document(run) for run in report.runs]
    return {
        "format": FORMAT,
        "tool": f"tritonsla {__version__}",
        "started_at": report.started_at,
        "settings": report.settings,
        "notes": list(report.notes),
        "runs": runs,
    }


def write_json(report: BenchReport, path: Path) -> Path:
    """Write the report to `path` (indented, UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_document(report), indent=2) + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> BenchReport:
    """Read a report written by `write_json` (runs come back without records)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = tuple(
        RunResult(
            name=run["name"],
            summary=_SUMMARY.validate_python(run["summary"]),
            records=(),
            servers=_SERVERS.validate_python(run["servers"]),
            server_error=run["server_error"],
        )
        for run in data["runs"]
    )
    return BenchReport(data["settings"], runs, data["started_at"], tuple(data["notes"]))
