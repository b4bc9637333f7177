"""Report writers: CSV and JSON round trips, PNG plots, console tables."""

from __future__ import annotations

from pathlib import Path

from benchkit import record
from rich.console import Console

from tritonsla.bench.records import BenchReport, RunResult
from tritonsla.bench.report import write_report
from tritonsla.bench.report.console import print_report
from tritonsla.bench.report.csv_report import read_requests_csv, summary_rows, write_requests_csv
from tritonsla.bench.report.json_report import read_json, write_json
from tritonsla.bench.report.plots import plot_latency_throughput, plot_ttft_cdf
from tritonsla.bench.schedule import Concurrent
from tritonsla.bench.server_stats import MetricSample, ModelDelta, ServerDelta
from tritonsla.bench.summary import summarize
from tritonsla.profiles.schema import Slo

OBJECTIVES = {"realtime": Slo(ttft_ms=150, itl_ms=150), "batch": Slo(percentile=99, e2e_ms=900)}


def _run(concurrency: int, slow: float = 1.0, *, failures: bool = True) -> RunResult:
    records = [
        record(0, scheduled=0.0, chunks=(0.1 * slow, 0.2 * slow, 0.3 * slow)),
        record(1, sla="batch", endpoint="batch_tensorrt_llm_bls", scheduled=0.5,
               chunks=(0.5 + 0.4 * slow,), tokens=12),
        record(2, scheduled=1.0, status="error", error_kind="ServerRejected"),
        record(3, sla="batch", endpoint="batch_tensorrt_llm_bls", scheduled=1.1,
               status="incomplete", error_kind="Cancelled"),
        record(4, scheduled=1.2, chunks=(1.25, 1.3), warmup=True),
    ]  # fmt: skip
    if not failures:
        records = [r for r in records if r.ok]
    strategy = Concurrent(concurrency)
    server = ServerDelta(
        "127.0.0.1:8001",
        (ModelDelta("batch_tensorrt_llm", 1, 0, 1, 1, 1.0, 0.5, 0.1, 3.0, 0.2),),
        (MetricSample("nv_inference_request_success", {"model": "batch_ensemble"}, "counter", 1),),
    )
    summary = summarize(strategy, records, OBJECTIVES)
    return RunResult(strategy.name, summary, tuple(records), (server,), None)


def _report() -> BenchReport:
    runs = (_run(1), _run(2, slow=2.0), _run(4, slow=5.0))
    return BenchReport({"deploy": "deploy/cpu.yaml", "seed": 0}, runs, "2025-01-01T00:00:00Z")


def test_requests_csv_round_trip(tmp_path: Path) -> None:
    report = _report()
    path = write_requests_csv(tmp_path / "requests.csv", report.runs)
    rows = read_requests_csv(path)
    expected = [(run.name, r) for run in report.runs for r in run.records]
    assert rows == expected


def test_json_round_trip(tmp_path: Path) -> None:
    runs = tuple(_run(c, failures=False) for c in (1, 2))
    report = BenchReport({"deploy": "deploy/cpu.yaml", "seed": 0}, runs, "2025-01-01T00:00:00Z")
    back = read_json(write_json(report, tmp_path / "summary.json"))
    assert back.settings == report.settings
    assert back.started_at == report.started_at
    assert [run.summary for run in back.runs] == [run.summary for run in report.runs]
    assert [run.servers for run in back.runs] == [run.servers for run in report.runs]


def test_json_writes_infinity_as_null(tmp_path: Path) -> None:
    report = _report()
    check = report.runs[0].summary.verdicts["batch"].checks[0]
    assert check.measured == float("inf")  # p99 over one success and one incomplete
    text = write_json(report, tmp_path / "summary.json").read_text()
    assert "Infinity" not in text
    assert (
        read_json(tmp_path / "summary.json").runs[0].summary.verdicts["batch"].checks[0].measured
        is None
    )


def test_summary_rows_hold_every_group_with_verdicts() -> None:
    rows = summary_rows([_run(1)])
    assert [(r["group"], r["name"], r["verdict"]) for r in rows] == [
        ("all", "all", "FAIL"),
        ("class", "realtime", "FAIL"),
        ("class", "batch", "FAIL"),
        ("endpoint", "realtime_tensorrt_llm_bls", ""),
        ("endpoint", "batch_tensorrt_llm_bls", ""),
    ]
    assert rows[0]["errors"] == "ServerRejected:1"
    assert rows[1]["ttft_ms_p50"] == "100.0"


def test_plots_are_written(tmp_path: Path) -> None:
    report = _report()
    cdf = plot_ttft_cdf(report.runs[0], OBJECTIVES, tmp_path / "ttft.png")
    curve = plot_latency_throughput(report.runs, tmp_path / "curve.png")
    for path in (cdf, curve):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000


def test_write_report_writes_every_file(tmp_path: Path) -> None:
    files = write_report(_report(), OBJECTIVES, tmp_path / "out")
    names = sorted(path.name for path in files.values())
    assert names == [
        "latency_throughput.png",
        "requests.csv",
        "summary.csv",
        "summary.json",
        "ttft_cdf-concurrent@1.png",
        "ttft_cdf-concurrent@2.png",
        "ttft_cdf-concurrent@4.png",
    ]
    assert all(path.stat().st_size > 0 for path in files.values())


def test_single_run_has_no_curve(tmp_path: Path) -> None:
    report = BenchReport({}, (_run(1),), "now")
    names = sorted(path.name for path in write_report(report, OBJECTIVES, tmp_path).values())
    assert names == ["requests.csv", "summary.csv", "summary.json", "ttft_cdf.png"]


def test_console_tables() -> None:
    console = Console(record=True, width=200)
    print_report(console, _report().runs)
    text = console.export_text()
    assert "concurrent@1: per SLA class" in text
    assert "FAIL" in text
    assert "batch: e2e_ms p99 ∞ <= 900.0 FAIL (1 of 2 requests failed (counted as +inf))" in text
    assert "batch_tensorrt_llm" in text
    assert "sweep: latency vs throughput" in text
    assert "errors by kind: ServerRejected: 1" in text
