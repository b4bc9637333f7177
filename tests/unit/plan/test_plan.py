"""tritonsla plan: forecast and measurement files, the engine fit, the simulation, the sizing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tritonsla.cli.main import run
from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.plan.check import (
    measured_capacity,
    simulated_capacity,
    stat_key,
    validate_runs,
)
from tritonsla.plan.engine_model import CalibrationError, EngineModel, calibrate
from tritonsla.plan.forecast import load_forecast
from tritonsla.plan.measurements import ClassRun, parse_load, read_capacity, read_class_runs
from tritonsla.plan.simulate import Traffic, simulate
from tritonsla.plan.sizing import size_class
from tritonsla.profiles.schema import Slo

ROOT = Path(__file__).resolve().parents[3]
CPU = ROOT / "deploy" / "cpu.yaml"
CLASSES = ["realtime", "interactive", "batch"]
MODEL = EngineModel(slots=4, step_ms=20.0, per_seq_ms=5.0, prefill_ms_per_token=2.0)


def forecast_file(tmp_path: Path, **classes: dict) -> Path:
    path = tmp_path / "forecast.yaml"
    path.write_text(yaml.safe_dump({"classes": classes}))
    return path


TRAFFIC = {"requests_per_s": 1.0, "input_tokens": 32, "output_tokens": 32}


def test_a_forecast_missing_a_class_names_the_field(tmp_path: Path) -> None:
    path = forecast_file(tmp_path, realtime=TRAFFIC, interactive=TRAFFIC)
    with pytest.raises(ConfigErrors) as caught:
        load_forecast(path, CLASSES)
    (error,) = caught.value.errors
    assert error.field == "classes.batch" and "no traffic" in error.problem


def test_forecast_typos_and_unknown_classes_name_the_field(tmp_path: Path) -> None:
    bad = {"requests_per_sec": 1.0, "input_tokens": 32, "output_tokens": 32}
    path = forecast_file(tmp_path, realtime=bad, interactive=TRAFFIC, batch=TRAFFIC)
    with pytest.raises(ConfigErrors, match="requests_per_sec"):
        load_forecast(path, CLASSES)
    path = forecast_file(
        tmp_path, realtime=TRAFFIC, interactive=TRAFFIC, batch=TRAFFIC, realtme=TRAFFIC
    )
    with pytest.raises(ConfigErrors) as caught:
        load_forecast(path, CLASSES)
    assert caught.value.errors[0].field == "classes.realtme"
    forecast = load_forecast(forecast_file(tmp_path, **dict.fromkeys(CLASSES, TRAFFIC)), CLASSES)
    assert forecast.total_rps == 3.0 and forecast.headroom == 0.2


def bench_json(path: Path, sla: str, runs: list[tuple[str, dict]]) -> Path:
    data = {
        "format": "tritonsla-bench/1",
        "runs": [
            {
                "name": load,
                "summary": {
                    "strategy": load,
                    "classes": {
                        sla: {
                            "counts": {"ok": 20},
                            "requests_per_s": stats.pop("rps", 1.0),
                            "input_tokens": {"mean": 32},
                            "output_tokens": {"mean": 32},
                            **stats,
                        }
                    },
                },
            }
            for load, stats in runs
        ],
    }
    path.write_text(json.dumps(data))
    return path


def closed_runs(model: EngineModel, n: int, prompt: int = 32, out: int = 32) -> list:
    """What the engine model predicts for closed loops at 1 and n (the fit's own equations)."""
    prefill = model.prefill_ms_per_token * prompt
    s1 = model.step_ms + model.per_seq_ms
    itl_n = model.step_ms + model.per_seq_ms * n + prefill * (n - 1) / out
    return [
        ("concurrent@1", {"ttft_ms": {"mean": s1 + prefill}, "itl_ms": {"mean": s1, "count": 9}}),
        (f"concurrent@{n}", {"ttft_ms": {"mean": 500.0}, "itl_ms": {"mean": itl_n, "count": 9}}),
    ]


def whole_runs(model: EngineModel, n: int, out: int = 32) -> list:
    """Closed loops of a class answered whole, as the delay model predicts them, and the one
    streamed run at concurrency 1 that gives the prompt's time."""
    s1 = model.step_ms + model.per_seq_ms
    sn = model.step_ms + model.per_seq_ms * n
    return [
        ("concurrent@1", {"e2e_ms": {"mean": model.delay_ms + out * s1}}),
        (f"concurrent@{n}", {"e2e_ms": {"mean": model.delay_ms + out * sn}}),
    ], [
        (
            "concurrent@1",
            {"ttft_ms": {"mean": model.delay_ms + s1}, "itl_ms": {"mean": s1, "count": 9}},
        )
    ]


def test_calibration_recovers_the_engine(tmp_path: Path) -> None:
    path = bench_json(tmp_path / "rt.json", "realtime", closed_runs(MODEL, 4))
    runs = read_class_runs(path, "realtime")
    assert [(r.kind, r.value) for r in runs] == [("concurrent", 1.0), ("concurrent", 4.0)]
    fitted = calibrate(runs, slots=4)
    assert fitted.step_ms == pytest.approx(20.0)
    assert fitted.per_seq_ms == pytest.approx(5.0)
    assert fitted.prefill_ms_per_token == pytest.approx(2.0)
    with pytest.raises(CalibrationError, match="concurrency 1 and one higher"):
        calibrate(runs[1:], slots=4)


def test_calibration_of_a_class_answered_whole(tmp_path: Path) -> None:
    model = EngineModel(32, 1.0, 0.5, 0.0, delay_ms=70.0)
    whole, streamed = whole_runs(model, 16)
    runs = read_class_runs(bench_json(tmp_path / "w.json", "batch", whole), "batch")
    with pytest.raises(CalibrationError, match="--stream always"):
        calibrate(runs, slots=32, streamed=False)
    runs += read_class_runs(bench_json(tmp_path / "s.json", "batch", streamed), "batch")
    fitted = calibrate(runs, slots=32, streamed=False)
    assert fitted.delay_ms == pytest.approx(70.0)
    assert fitted.step_ms == pytest.approx(1.0) and fitted.per_seq_ms == pytest.approx(0.5)
    light = simulate(fitted, 1, Traffic(0.05, 128, 32), seconds=2000)
    assert light.percentile("e2e_ms", 50) == pytest.approx(70.0 + 32 * 1.5)


def test_measurement_files_are_checked(tmp_path: Path) -> None:
    path = bench_json(tmp_path / "rt.json", "realtime", closed_runs(MODEL, 4))
    with pytest.raises(ConfigErrors, match="no run completed a request of class `batch`"):
        read_class_runs(path, "batch")
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps({"format": "tritonsla-capacity/1", "capacity_rps": 6.5}))
    assert read_capacity(capacity) == 6.5
    with pytest.raises(ConfigErrors, match="not a capacity JSON"):
        read_capacity(path)
    with pytest.raises(ConfigErrors, match="not a bench JSON"):
        read_class_runs(capacity, "realtime")
    assert parse_load("poisson@2.5rps") == ("poisson", 2.5)
    assert stat_key(99.0) == "p99" and stat_key(95.0) == "p95"


def test_unreadable_or_misshapen_measurement_files_name_the_file_not_a_traceback(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigErrors, match="cannot be read"):
        read_class_runs(tmp_path, "realtime")  # a folder
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigErrors, match="cannot be read"):
        read_capacity(binary)
    odd = tmp_path / "odd.json"
    odd.write_text(
        json.dumps({"format": "tritonsla-bench/1", "runs": [{"summary": {"classes": []}}]})
    )
    with pytest.raises(ConfigErrors, match="not shaped as `tritonsla bench` writes it"):
        read_class_runs(odd, "realtime")
    null = tmp_path / "null.json"
    null.write_text(json.dumps({"format": "tritonsla-capacity/1", "capacity_rps": None}))
    with pytest.raises(ConfigErrors, match=r"capacity_rps.*not a number"):
        read_capacity(null)


def test_simulation_at_light_load_is_the_engine_alone() -> None:
    observed = simulate(MODEL, 1, Traffic(0.05, 32, 32), seconds=2000, seed=1)
    # one request at a time: first step = 20 + 5 + 64 ms; later steps 25 ms
    assert observed.percentile("ttft_ms", 50) == pytest.approx(89.0)
    assert observed.percentile("itl_ms", 50) == pytest.approx(25.0)
    assert observed.unfinished == 0


def test_simulation_is_deterministic_and_replicas_share_load() -> None:
    traffic = Traffic(6.0, 32, 32)
    one = simulate(MODEL, 2, traffic, seconds=60, seed=3)
    again = simulate(MODEL, 2, traffic, seconds=60, seed=3)
    assert one.e2e_ms == again.e2e_ms
    more = simulate(MODEL, 4, traffic, seconds=60, seed=3)
    assert more.percentile("ttft_ms", 95) < one.percentile("ttft_ms", 95)


def test_capacity_and_validation_by_simulation() -> None:
    slo = Slo(ttft_ms=500.0, itl_ms=150.0)
    capacity = simulated_capacity(MODEL, 32, 32, slo, seconds=120)
    # 4 slots, ~40 ms steps when full, 32 tokens: at most ~3 req/s
    assert 1.0 < capacity < 3.2
    run = ClassRun("poisson@1rps", "poisson", 1.0, 1.0, 32, 32, 100, {})
    measured = simulate(MODEL, 1, Traffic(1.0, 32, 32), seconds=120).percentile("ttft_ms", 95)
    run.stats["ttft_ms"] = {"p95": measured}
    (comparison,) = validate_runs(MODEL, [run], Slo(ttft_ms=500.0), seconds=120)
    assert comparison.error == pytest.approx(0.0) and comparison.within


def test_sizing() -> None:
    plan = size_class("rt", 100.0, 3.0, "x", headroom=0.2, peak_factor=2.0, gpus_per_replica=1)
    assert (plan.min_replicas, plan.replicas, plan.max_replicas, plan.gpus) == (34, 40, 80, 40)
    idle = size_class("b", 0.0, 3.0, "x", headroom=0.2, peak_factor=2.0, gpus_per_replica=0)
    assert (idle.min_replicas, idle.replicas, idle.max_replicas) == (1, 1, 1)
    with pytest.raises(ConfigError, match="at no rate"):
        size_class("rt", 1.0, 0.0, "cap.json", headroom=0.2, peak_factor=2.0, gpus_per_replica=1)


def test_cli_plans_checks_and_writes(tmp_path: Path) -> None:
    busy = {**TRAFFIC, "requests_per_s": 5}
    forecast = forecast_file(tmp_path, **{sla: busy for sla in CLASSES})
    args = ["plan", "--deploy", str(CPU), "--forecast", str(forecast), "--sim-seconds", "60"]
    for sla in CLASSES:
        slots = {"realtime": 4, "interactive": 16, "batch": 32}[sla]
        whole = sla == "batch"  # answered whole: fitted from end-to-end times
        model = EngineModel(slots, 20.0, 1.0, 0.0 if whole else 0.5, 16.0 if whole else 0.0)
        observed = simulate(model, 1, Traffic(1.0, 32, 32), seconds=1800)
        p95 = {
            m: {"p95": observed.percentile(m, 95), "p99": observed.percentile(m, 99)}
            for m in ("ttft_ms", "itl_ms", "e2e_ms")
        }
        if whole:
            closed, streamed = whole_runs(model, slots)
            runs = [*closed, ("poisson@1rps", p95)]
            extra = bench_json(tmp_path / f"{sla}-streamed.json", sla, streamed)
            args += ["--measurements", f"{sla}={extra}"]
        else:
            runs = [*closed_runs(model, slots), ("poisson@1rps", p95)]
        args += ["--measurements", f"{sla}={bench_json(tmp_path / f'{sla}.json', sla, runs)}"]
    out = io.StringIO()
    status = run([*args, "--out", str(tmp_path / "plan.json")], Console(file=out, width=200))
    text = out.getvalue()
    assert status == 0, text
    assert "Plan at 15 req/s" in text and "holds" in text
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["ok"] and plan["classes"]["realtime"]["replicas"] >= 2
    manifests = tmp_path / "k8s"
    k8s = ["render", "--target", "k8s", "--deploy", str(CPU), "--out", str(manifests)]
    assert run([*k8s, "--plan", str(tmp_path / "plan.json")], Console(file=io.StringIO())) == 0
    docs = list(yaml.safe_load_all((manifests / "11-realtime.yaml").read_text()))
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")["spec"]
    bounds = plan["classes"]["realtime"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (
        bounds["min_replicas"],
        bounds["max_replicas"],
    )
    with pytest.raises(ConfigErrors, match="--measurements") as caught:
        run([*args[:9]], Console(file=io.StringIO()))  # realtime's runs only
    assert [e.field for e in caught.value.errors] == ["interactive", "batch"]


def test_measured_capacity_is_the_highest_rate_that_met_the_slo() -> None:
    def poisson(rate: float, ttft: float) -> ClassRun:
        return ClassRun(
            f"poisson@{rate:g}rps", "poisson", rate, rate, 32, 32, 50, {"ttft_ms": {"p95": ttft}}
        )

    slo = Slo(ttft_ms=500.0)
    runs = [poisson(2, 100.0), poisson(4, 900.0), poisson(3, 450.0)]
    assert measured_capacity(runs, slo) == (3.0, "poisson@3rps")
    assert measured_capacity([poisson(4, 900.0)], slo) is None
