"""CSV export: one row per request (requests.csv) and one row per run and group (summary.csv).

Request times are seconds from the run's first scheduled send; `ttft_ms`, `itl_ms`, `e2e_ms`
and `send_lag_ms` are derived columns for spreadsheets (`read_requests_csv` recomputes them).
Chunk arrival times are space-separated in one column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tritonsla.bench.metrics import MS, Distribution, GroupMetrics
from tritonsla.bench.records import RequestRecord, RunResult

REQUEST_FIELDS: tuple[str, ...] = (
    "run", "index", "sla", "endpoint", "warmup", "status", "error_kind", "error",
    "input_tokens", "max_tokens", "output_tokens", "scheduled_s", "sent_s", "first_token_s",
    "end_s", "ttft_ms", "itl_ms", "e2e_ms", "send_lag_ms", "chunks_s",
)  # fmt: skip
DISTRIBUTIONS: tuple[str, ...] = ("ttft_ms", "itl_ms", "chunk_gap_ms", "e2e_ms", "output_tokens")
STATS: tuple[str, ...] = ("mean", "std", "min", "p50", "p90", "p95", "p99", "max")
SUMMARY_FIELDS: tuple[str, ...] = (
    "run", "group", "name", "verdict", "total", "ok", "error", "incomplete", "errors",
    "window_s", "requests_per_s", "output_tokens_per_s", "good", "goodput_rps",
    *(f"{d}_{s}" for d in DISTRIBUTIONS for s in STATS),
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * MS


def request_row(run: str, record: RequestRecord) -> dict[str, str]:
    """The CSV row of one record."""
    values = {
        "run": run,
        "index": record.index,
        "sla": record.sla,
        "endpoint": record.endpoint,
        "warmup": record.warmup,
        "status": record.status,
        "error_kind": record.error_kind,
        "error": record.error,
        "input_tokens": record.input_tokens,
        "max_tokens": record.max_tokens,
        "output_tokens": record.output_tokens,
        "scheduled_s": record.scheduled,
        "sent_s": record.sent,
        "first_token_s": record.first_token,
        "end_s": record.end,
        "ttft_ms": _ms(record.ttft),
        "itl_ms": _ms(record.itl),
        "e2e_ms": _ms(record.e2e),
        "send_lag_ms": _ms(record.send_lag),
        "chunks_s": " ".join(str(t) for t in record.chunks),
    }
    return {key: _cell(value) for key, value in values.items()}


def write_requests_csv(path: Path, runs: Iterable[RunResult]) -> Path:
    """Every record of every run, in run order then completion order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, REQUEST_FIELDS)
        writer.writeheader()
        for run in runs:
            writer.writerows(request_row(run.name, record) for record in run.records)
    return path


def _opt(text: str, kind: type) -> Any:
    return None if text == "" else kind(text)


def read_requests_csv(path: Path) -> list[tuple[str, RequestRecord]]:
    """(run name, record) pairs from a file written by `write_requests_csv`."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (
            row["run"],
            RequestRecord(
                index=int(row["index"]),
                sla=row["sla"] or None,
                endpoint=row["endpoint"] or None,
                warmup=row["warmup"] == "true",
                status=row["status"],  # type: ignore[arg-type]
                input_tokens=_opt(row["input_tokens"], int),
                max_tokens=int(row["max_tokens"]),
                output_tokens=int(row["output_tokens"]),
                scheduled=float(row["scheduled_s"]),
                sent=_opt(row["sent_s"], float),
                first_token=_opt(row["first_token_s"], float),
                end=_opt(row["end_s"], float),
                chunks=tuple(float(t) for t in row["chunks_s"].split()),
                error_kind=row["error_kind"] or None,
                error=row["error"] or None,
            ),
        )
        for row in rows
    ]


def group_row(run: str, group: str, metrics: GroupMetrics, verdict: str = "") -> dict[str, str]:
    """The summary CSV row of one group of one run."""
    values: dict[str, Any] = {
        "run": run,
        "group": group,
        "name": metrics.name,
        "verdict": verdict,
        "total": metrics.counts.total,
        "ok": metrics.counts.ok,
        "error": metrics.counts.error,
        "incomplete": metrics.counts.incomplete,
        "errors": ";".join(f"{kind}:{count}" for kind, count in metrics.errors.items()),
        "window_s": metrics.window_s,
        "requests_per_s": metrics.requests_per_s,
        "output_tokens_per_s": metrics.output_tokens_per_s,
        "good": metrics.good,
        "goodput_rps": metrics.goodput_rps,
    }
    for name in DISTRIBUTIONS:
        dist: Distribution | None = getattr(metrics, name)
        for stat in STATS:
            values[f"{name}_{stat}"] = None if dist is None else getattr(dist, stat)
    return {key: _cell(value) for key, value in values.items()}


def verdict_word(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: ""}[passed]


def summary_rows(runs: Sequence[RunResult]) -> list[dict[str, str]]:
    """Rows: per run, the whole run, then each class (with its verdict), then each endpoint."""
    rows = []
    for run in runs:
        summary = run.summary
        rows.append(group_row(run.name, "all", summary.overall, verdict_word(summary.passed)))
        for name, metrics in summary.classes.items():
            word = verdict_word(summary.verdicts[name].passed)
            rows.append(group_row(run.name, "class", metrics, word))
        rows.extend(group_row(run.name, "endpoint", m) for m in summary.endpoints.values())
    return rows


def write_summary_csv(path: Path, runs: Sequence[RunResult]) -> Path:
    """One row per run and group (see `summary_rows`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(summary_rows(runs))
    return path
