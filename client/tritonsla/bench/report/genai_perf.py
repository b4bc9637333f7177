"""An export in genai-perf's shape and metric names, beside our own report.

genai-perf (triton-inference-server/perf_analyzer, genai-perf/genai_perf) writes
`<artifact dir>/<profile export file stem>_genai_perf.json`: one object per metric with `unit`,
`avg`, `min`, `max`, `std` and percentiles p1, p5, p10, p25, p50, p75, p90, p95, p99 (numpy,
linear), time metrics in ms; system metrics (`request_throughput`, `output_token_throughput`,
`request_goodput`) carry `avg` only; the settings go under `input_config`
(export_data/json_exporter.py, metrics/statistics.py, metrics/llm_metrics.py). Its
definitions, which ours share: TTFT and request latency per request; inter-token latency
(latency - TTFT) / (tokens - 1) for answers of two tokens or more; per-request output token
throughput tokens / latency; rates over first send to last answer. The CSV holds the same
request metrics (Metric, avg, min, max, p99, p95, p90, p75, p50, p25) and then the system
metrics (Metric, Value).

`write_report` writes one pair per run (`<stem>-<run>_genai_perf.*` in a sweep).
Ours adds what genai-perf has no place for: `sla_classes`, the same metrics per SLA class, and
`error_count` (genai-perf counts answered requests only, as this export does). Latencies count
from each request's scheduled send, which in a closed loop is when it was sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tritonsla.bench.metrics import GroupMetrics, measured, run_window
from tritonsla.bench.records import RequestRecord, RunResult
from tritonsla.errors import ConfigError

PERCENTILES: tuple[int, ...] = (1, 5, 10, 25, 50, 75, 90, 95, 99)
CSV_STATS: tuple[str, ...] = ("avg", "min", "max", "p99", "p95", "p90", "p75", "p50", "p25")
DEFAULT_EXPORT = "profile_export.json"
"""genai-perf's default --profile-export-file."""

RequestMetric = tuple[str, str, Callable[[RequestRecord], float | None]]


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


def _per_request_rate(record: RequestRecord) -> float | None:
    e2e = record.e2e
    return record.output_tokens / e2e if e2e else None


REQUEST_METRICS: tuple[RequestMetric, ...] = (
    ("time_to_first_token", "ms", lambda r: _ms(r.ttft)),
    ("inter_token_latency", "ms", lambda r: _ms(r.itl)),
    ("request_latency", "ms", lambda r: _ms(r.e2e)),
    ("output_token_throughput_per_request", "tokens/sec", _per_request_rate),
    ("output_sequence_length", "tokens", lambda r: float(r.output_tokens)),
    ("input_sequence_length", "tokens", lambda r: _float(r.input_tokens)),
)
"""genai-perf's request metrics in its order (LLMMetrics.request_metrics), and how each is read
from one of our records."""


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


def statistics(values: Sequence[float], unit: str) -> dict[str, Any] | None:
    """genai-perf's statistics of one metric; None when nothing was measured."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    stats: dict[str, Any] = {"unit": unit, "avg": float(data.mean())}
    for q, value in zip(PERCENTILES, np.percentile(data, PERCENTILES), strict=True):
        stats[f"p{q}"] = float(value)
    stats.update(min=float(data.min()), max=float(data.max()), std=float(data.std()))
    return stats


def group_document(records: Sequence[RequestRecord], window: float | None) -> dict[str, Any]:
    """Request and system metrics of answered `records` over the run's `window` (seconds)."""
    ok = [r for r in records if r.ok]
    document: dict[str, Any] = {}
    for name, unit, read in REQUEST_METRICS:
        values = [v for r in ok if (v := read(r)) is not None]
        stats = statistics(values, unit)
        if stats is not None:
            document[name] = stats
    tokens = sum(r.output_tokens for r in ok)
    rate = (lambda n: n / window) if window else (lambda n: 0.0)
    document["output_token_throughput"] = {"unit": "tokens/sec", "avg": rate(tokens)}
    document["request_throughput"] = {"unit": "requests/sec", "avg": rate(len(ok))}
    document["request_count"] = {"unit": "count", "avg": len(ok)}
    document["error_count"] = {"unit": "count", "avg": len(records) - len(ok)}
    return document


def _goodput(metrics: GroupMetrics) -> dict[str, Any] | None:
    if metrics.goodput_rps is None:
        return None
    return {"unit": "requests/sec", "avg": metrics.goodput_rps}


def run_document(run: RunResult, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The genai-perf document of one run: whole run at the top, per class under sla_classes."""
    records = measured(run.records)
    window = run_window(records)
    document = group_document(records, window)
    goodput = _goodput(run.summary.overall)
    if goodput is not None:
        document["request_goodput"] = goodput
    classes = {}
    for name, metrics in run.summary.classes.items():
        part = group_document([r for r in records if r.sla == name], window)
        if (good := _goodput(metrics)) is not None:
            part["request_goodput"] = good
        classes[name] = part
    document["sla_classes"] = classes
    document["input_config"] = {**settings, "load": run.name}
    return document


def csv_text(document: Mapping[str, Any]) -> str:
    """genai-perf's CSV of a run document: request metrics, a blank row, system metrics."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Metric", *CSV_STATS])
    for name, unit, _ in REQUEST_METRICS:
        stats = document.get(name)
        if stats is None:
            continue
        title = name.replace("_", " ").title() + (f" ({unit})" if unit != "tokens" else "")
        writer.writerow([title, *(f"{stats[s]:,.2f}" for s in CSV_STATS)])
    writer.writerow([])
    writer.writerow(["Metric", "Value"])
    for name in ("output_token_throughput", "request_throughput", "request_goodput"):
        if name in document:
            title = name.replace("_", " ").title() + " (per sec)"
            writer.writerow([title, f"{document[name]['avg']:.2f}"])
    return buffer.getvalue()


def export_stem(export_file: str) -> str:
    """The file-name stem of `--profile-export-file`, which must be a bare file name."""
    path = Path(export_file)
    if path.parent != Path("") or not path.stem:
        raise ConfigError(
            "--profile-export-file", export_file, "must be a file name, not a path",
            "name the folder with --artifact-dir (or --out), e.g. --artifact-dir runs/a "
            "--profile-export-file my_export.json",
        )  # fmt: skip
    return path.stem
