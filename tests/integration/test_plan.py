"""The plan's measurement path end to end: `tritonsla bench` runs of one class against a real
server (closed loop at 1 and 4, open loop at two rates), read and fitted by `tritonsla plan`,
which writes a plan whose checks compare the simulation with those runs. Accuracy itself is a
benchmark (README, "Capacity plan"); here the contract between bench and plan is tested.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.integration.conftest import ServedDeployment, serve_deployment, variant_deploy
from tritonsla.cli.main import run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def realtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ServedDeployment]]:
    work = tmp_path_factory.mktemp("plan")
    deploy = variant_deploy(work, ["realtime"])
    with serve_deployment(work / "server", deploy) as served:
        yield deploy, served


def bench(deploy: Path, served: ServedDeployment, out: Path, *load_args: str) -> Path:
    args = [
        "bench",
        "--deploy",
        str(deploy),
        "--url",
        served.endpoints.grpc_address,
        "--metrics-url",
        served.endpoints.metrics_url,
        "--mix",
        "realtime=1",
        "--input-tokens",
        "16",
        "--output-tokens",
        "8",
        "--out",
        str(out),
        *load_args,
    ]
    assert run(args, Console(file=io.StringIO())) == 0
    return out / "summary.json"


def test_bench_runs_fit_and_check_a_plan(
    realtime: tuple[Path, ServedDeployment], tmp_path: Path
) -> None:
    deploy, served = realtime
    closed = bench(
        deploy,
        served,
        tmp_path / "closed",
        "--load",
        "concurrent@1",
        "--load",
        "concurrent@4",
        "--requests",
        "16",
    )
    opened = bench(
        deploy,
        served,
        tmp_path / "open",
        "--load",
        "poisson@4rps",
        "--load",
        "poisson@8rps",
        "--duration",
        "3",
    )
    forecast = tmp_path / "forecast.yaml"
    forecast.write_text(
        yaml.safe_dump(
            {
                "classes": {
                    "realtime": {"requests_per_s": 100, "input_tokens": 16, "output_tokens": 8}
                }
            }
        )
    )
    out = io.StringIO()
    run(
        [
            "plan",
            "--deploy",
            str(deploy),
            "--forecast",
            str(forecast),
            "--measurements",
            f"realtime={closed}",
            "--measurements",
            f"realtime={opened}",
            "--sim-seconds",
            "30",
            "--out",
            str(tmp_path / "plan.json"),
        ],
        Console(file=out, width=200),
    )
    plan = json.loads((tmp_path / "plan.json").read_text())["classes"]["realtime"]
    engine = plan["engine_model"]
    assert engine["slots"] == 4 and engine["step_ms"] > 0 and engine["per_seq_ms"] >= 0
    checked = {(c["load"], c["metric"]) for c in plan["checks"]}
    assert checked == {
        (load, metric)
        for load in ("poisson@4rps", "poisson@8rps")
        for metric in ("ttft_ms", "itl_ms")
    }
    assert plan["replicas"] >= plan["min_replicas"] >= 1
    assert "Simulation against measurements" in out.getvalue()
