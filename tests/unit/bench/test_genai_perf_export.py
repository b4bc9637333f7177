"""The genai-perf export: metric names, units, statistics, per-class sections, CSV, files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from benchkit import record

from tritonsla.bench.records import BenchReport, RunResult
from tritonsla.bench.report import write_report
from tritonsla.bench.report.genai_perf import csv_text, export_stem, run_document
from tritonsla.bench.schedule import Concurrent
from tritonsla.bench.summary import summarize
from tritonsla.errors import ConfigError
from tritonsla.profiles.schema import Slo

OBJECTIVES = {"realtime": Slo(ttft_ms=150), "batch": Slo(e2e_ms=5000)}


def _records() -> list:
    """Realtime: 4 answers of 4 tokens, TTFT 0.1..0.4 s, 0.1 s apart; batch: 1 answer, 1 error."""
    rows = [
        record(i, scheduled=i * 1.0, chunks=tuple(i + (i + 1) * 0.1 + k * 0.1 for k in range(4)))
        for i in range(4)
    ]
    rows.append(record(4, sla="batch", scheduled=0.5, chunks=(1.5, 2.0, 2.5), tokens=3))
    rows.append(record(5, sla="batch", status="error", scheduled=0.6, error_kind="ServerRejected"))
    rows.append(record(6, warmup=True, scheduled=-1.0, chunks=(-0.5, 9.0)))  # not counted
    return rows


def _run() -> RunResult:
    records = _records()
    return RunResult("concurrent@2", summarize(Concurrent(2), records, OBJECTIVES), tuple(records))


def test_metric_names_units_and_statistics_follow_genai_perf() -> None:
    document = run_document(_run(), {"deploy": "x"})
    ttft = document["time_to_first_token"]
    values = [100.0, 200.0, 300.0, 400.0, 1000.0]  # ms; the batch answer's TTFT is 1 s
    assert ttft["unit"] == "ms"
    assert ttft["avg"] == pytest.approx(np.mean(values))
    assert ttft["p25"] == pytest.approx(np.percentile(values, 25))
    assert ttft["p75"] == pytest.approx(np.percentile(values, 75))
    assert set(ttft) == {"unit", "avg", "min", "max", "std"} | {
        f"p{q}" for q in (1, 5, 10, 25, 50, 75, 90, 95, 99)
    }
    itl = document["inter_token_latency"]  # (latency - ttft) / (tokens - 1)
    assert itl["min"] == pytest.approx(100.0) and itl["max"] == pytest.approx(500.0)
    latency = document["request_latency"]
    assert latency["max"] == pytest.approx(2000.0)  # batch: 0.5 -> 2.5
    per_request = document["output_token_throughput_per_request"]
    assert per_request["unit"] == "tokens/sec" and per_request["max"] == pytest.approx(4 / 0.4)
    assert document["output_sequence_length"]["avg"] == pytest.approx(19 / 5)
    # window: first scheduled send (0.0) to last answer (3.7 s)
    assert document["output_token_throughput"] == {"unit": "tokens/sec", "avg": 19 / 3.7}
    assert document["request_throughput"] == {"unit": "requests/sec", "avg": 5 / 3.7}
    assert document["request_count"]["avg"] == 5 and document["error_count"]["avg"] == 1
    assert document["request_goodput"]["unit"] == "requests/sec"
    assert document["input_config"] == {"deploy": "x", "load": "concurrent@2"}


def test_each_class_gets_the_same_metrics_and_goodput_by_its_own_objective() -> None:
    classes = run_document(_run(), {})["sla_classes"]
    assert set(classes) == {"realtime", "batch"}
    realtime, batch = classes["realtime"], classes["batch"]
    assert realtime["request_count"]["avg"] == 4
    assert realtime["request_goodput"]["avg"] == pytest.approx(1 / 3.7)  # only TTFT 100 ms
    assert batch["request_count"]["avg"] == 1 and batch["error_count"]["avg"] == 1
    assert batch["request_goodput"]["avg"] == pytest.approx(1 / 3.7)
    assert "inter_token_latency" in batch


def test_csv_has_genai_perfs_two_tables() -> None:
    rows = list(csv.reader(csv_text(run_document(_run(), {})).splitlines()))
    assert rows[0] == ["Metric", "avg", "min", "max", "p99", "p95", "p90", "p75", "p50", "p25"]
    assert rows[1][0] == "Time To First Token (ms)" and rows[1][2] == "100.00"
    assert ["Output Sequence Length", *rows[5][1:]] == rows[5]
    blank = rows.index([])
    assert rows[blank + 1] == ["Metric", "Value"]
    assert rows[blank + 2][0] == "Output Token Throughput (per sec)"
    assert {row[0] for row in rows[blank + 2 :]} >= {"Request Goodput (per sec)"}


def test_the_export_is_written_beside_the_report_per_run(tmp_path: Path) -> None:
    one = BenchReport({"seed": 0}, (_run(),), "now")
    files = write_report(one, OBJECTIVES, tmp_path / "one", "my_export.json")
    names = sorted(path.name for path in files.values())
    assert "my_export_genai_perf.json" in names and "my_export_genai_perf.csv" in names
    document = json.loads((tmp_path / "one" / "my_export_genai_perf.json").read_text())
    assert document["time_to_first_token"]["unit"] == "ms"
    run = _run()
    sweep = BenchReport({}, (run, RunResult("concurrent@4", run.summary, run.records)), "now")
    files = write_report(sweep, OBJECTIVES, tmp_path / "sweep", "profile_export.json")
    names = {path.name for path in files.values()}
    assert "profile_export-concurrent@4_genai_perf.json" in names
    plain = write_report(one, OBJECTIVES, tmp_path / "plain")  # no export file asked for
    assert not any("genai_perf" in path.name for path in plain.values())


def test_the_export_file_must_be_a_bare_name() -> None:
    assert export_stem("profile_export.json") == "profile_export"
    with pytest.raises(ConfigError, match=r"--profile-export-file.*--artifact-dir"):
        export_stem("runs/a/profile_export.json")
