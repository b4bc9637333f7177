"""Report writers, apart from the metric code: console, JSON, CSV and PNG.

`write_report` writes the whole folder:
- summary.json: settings, notes, every run's summary and server deltas
- requests.csv: one row per request of every run; summary.csv: one row per run and group
- with `export_file` (genai-perf's --profile-export-file, e.g. profile_export.json):
  profile_export_genai_perf.json and .csv, genai-perf's metric names and shape
  (`profile_export-<run>_genai_perf.*` for each run of a sweep)
- ttft_cdf.png (one run) or ttft_cdf-<run>.png (each run of a sweep)
- latency_throughput.png: the latency/throughput curve, when there are several runs
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from tritonsla.bench.records import BenchReport
from tritonsla.bench.report.csv_report import write_requests_csv, write_summary_csv
from tritonsla.bench.report.genai_perf import csv_text, export_stem, run_document
from tritonsla.bench.report.json_report import write_json
from tritonsla.bench.report.plots import plot_latency_throughput, plot_ttft_cdf
from tritonsla.profiles.schema import Slo

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


def file_label(run_name: str) -> str:
    """`run_name` safe in a file name: `gamma@4rps,burstiness=0.5` -> `gamma@4rps_burstiness_0.5`"""
    return _UNSAFE.sub("_", run_name)


def write_report(
    report: BenchReport,
    objectives: Mapping[str, Slo],
    out: Path,
    export_file: str | None = None,
) -> dict[str, Path]:
    """Write every file of the report into `out`; returns them by role."""
    stem = None if export_file is None else export_stem(export_file)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": write_json(report, out / "summary.json"),
        "requests_csv": write_requests_csv(out / "requests.csv", report.runs),
        "summary_csv": write_summary_csv(out / "summary.csv", report.runs),
    }
    several = len(report.runs) > 1
    for run in report.runs:
        name = f"ttft_cdf-{file_label(run.name)}.png" if several else "ttft_cdf.png"
        files[f"ttft_cdf:{run.name}"] = plot_ttft_cdf(run, objectives, out / name)
        if stem is None:
            continue
        export = f"{stem}-{file_label(run.name)}" if several else stem
        document = run_document(run, report.settings)
        path = out / f"{export}_genai_perf.json"
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        files[f"genai_perf_json:{run.name}"] = path
        path = out / f"{export}_genai_perf.csv"
        path.write_text(csv_text(document), encoding="utf-8")
        files[f"genai_perf_csv:{run.name}"] = path
    if several:
        files["latency_throughput"] = plot_latency_throughput(
            report.runs, out / "latency_throughput.png"
        )
    return files
