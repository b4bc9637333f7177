"""`tritonsla bench` flags -> options, and `prepare` (no server: nothing is sent)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tritonsla.bench.benchmark import BenchOptions, prepare, settings_of
from tritonsla.bench.schedule import Concurrent, Constant, Gamma, Limits, Poisson
from tritonsla.bench.workload import TokenLengths
from tritonsla.cli import bench_cmd
from tritonsla.errors import ConfigError
from tritonsla.profiles.schema import Slo
from tritonsla.text.default_tokenizer import write_default_tokenizer


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_defaults_are_one_request_at_a_time_for_100_requests() -> None:
    options = bench_cmd.options_of(parse())
    assert options.strategies == (Concurrent(1),)
    assert options.limits == Limits(requests=100)
    assert options.input_tokens == TokenLengths(64)
    assert options.output_tokens == TokenLengths(32)


def test_the_flags_of_the_design() -> None:
    options = bench_cmd.options_of(
        parse(
            "--deploy", "deploy/cpu.yaml", "--mix", "realtime=0.2,interactive=0.3,batch=0.5",
            "--request-rate", "4", "--duration", "60", "--out", "reports/run1",
            "--input-tokens", "64", "--input-tokens-std", "8", "--output-tokens", "32",
            "--output-tokens-std", "4", "--goodput", "ttft_ms=300", "--seed", "7",
            "--warmup-s", "5",
        )
    )  # fmt: skip
    assert options.strategies == (Poisson(4.0),)
    assert options.limits == Limits(duration_s=60.0, warmup_s=5.0)
    assert options.mix == "realtime=0.2,interactive=0.3,batch=0.5"
    assert options.input_tokens == TokenLengths(64, 8.0)
    assert options.output_tokens == TokenLengths(32, 4.0)
    assert (options.goodput, options.seed) == (("ttft_ms=300",), 7)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--sweep", "concurrency=1,2,4,8"], tuple(Concurrent(n) for n in (1, 2, 4, 8))),
        (["--sweep", "rate=1,2", "--arrival", "constant"], (Constant(1.0), Constant(2.0))),
        (["--request-rate", "3", "--arrival", "gamma", "--burstiness", "0.5"], (Gamma(3.0, 0.5),)),
        (["--load", "poisson@2rps", "--load", "concurrent@3"], (Poisson(2.0), Concurrent(3))),
        (["--concurrency", "8"], (Concurrent(8),)),
    ],
)
def test_load_flags(argv: list[str], expected: tuple) -> None:
    assert bench_cmd.strategies_of(parse(*argv)) == expected


@pytest.mark.parametrize("sweep", ["concurrency=1,x", "speed=1,2", "concurrency=1.5", "rate"])
def test_bad_sweeps_are_refused(sweep: str) -> None:
    with pytest.raises(ConfigError, match="--sweep"):
        bench_cmd.strategies_of(parse("--sweep", sweep))


def test_load_flags_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse("--concurrency", "2", "--request-rate", "3")


@pytest.fixture
def deploy(project) -> Path:
    """deploy/cpu.yaml of a tmp project, with the default tokenizer in its model folder."""
    write_default_tokenizer(project.root / "assets" / "tiny-gpt2")
    return project.deploy


def test_prepare_routed(deploy: Path) -> None:
    options = BenchOptions(
        deploy,
        urls=("127.0.0.1:9001",),
        metrics_url="http://127.0.0.1:9002/metrics",
        mix="realtime=0.5,batch=0.5",
        goodput=("e2e_ms=900", "realtime.ttft_ms=123"),
    )
    prepared = prepare(options)
    assert prepared.objectives["realtime"] == Slo(ttft_ms=123, itl_ms=150, e2e_ms=900)
    assert prepared.streaming == {"realtime": True, "interactive": True, "batch": False}
    assert [(s.address, s.metrics_url) for s in prepared.servers] == [
        ("127.0.0.1:9001", "http://127.0.0.1:9002/metrics")
    ]
    assert {prepared.workload.request(i).sla for i in range(20)} == {"realtime", "batch"}
    settings = settings_of(prepared)
    assert settings["mode"] == "routed"
    assert settings["mix"] == {"realtime": 0.5, "batch": 0.5}
    json.dumps(settings)  # the report can hold it


def test_prepare_fixed_endpoint_outside_the_deployment(deploy: Path) -> None:
    prepared = prepare(BenchOptions(deploy, urls=("127.0.0.1:9001",), endpoint="other_model"))
    endpoint = prepared.table.for_model("other_model")
    assert [r.address for r in endpoint.replicas] == ["127.0.0.1:9001"]
    assert settings_of(prepared)["mode"] == "fixed endpoint"


def test_prepare_refuses_unknown_classes_in_prompt_files(deploy: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"text": "hi", "sla": "turbo"}) + "\n")
    with pytest.raises(ConfigError, match=r"unknown class.*turbo.*available: realtime"):
        prepare(BenchOptions(deploy, prompts=prompts))


def test_prepare_refuses_bad_urls(deploy: Path) -> None:
    with pytest.raises(ConfigError, match="--url"):
        prepare(BenchOptions(deploy, urls=("nowhere",)))
