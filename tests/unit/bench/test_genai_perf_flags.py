"""genai-perf's flag names as aliases, its goodput syntax, --num-prompts and the OpenAI flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tritonsla.bench.benchmark import prepare, settings_of
from tritonsla.bench.objectives import parse_goodput
from tritonsla.bench.openai import OpenAiTarget
from tritonsla.bench.workload import PromptEntry, TokenLengths, Workload, equal_mix
from tritonsla.cli import bench_cmd
from tritonsla.errors import ConfigError
from tritonsla.text.default_tokenizer import write_default_tokenizer

CLASSES = ("realtime", "interactive", "batch")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_genai_perf_flag_names_set_the_same_options() -> None:
    args = parse(
        "--synthetic-input-tokens-mean", "200", "--synthetic-input-tokens-stddev", "10",
        "--output-tokens-mean", "100", "--output-tokens-stddev", "5", "--num-prompts", "7",
        "--artifact-dir", "runs/a", "--profile-export-file", "my_export.json", "--streaming",
        "--request-count", "40", "--warmup-request-count", "2", "--random-seed", "123",
        "--goodput", "time_to_first_token:75", "inter_token_latency:19.75",
    )  # fmt: skip
    options = bench_cmd.options_of(args)
    assert options.input_tokens == TokenLengths(200, 10.0)
    assert options.output_tokens == TokenLengths(100, 5.0)
    assert options.num_prompts == 7 and options.stream == "always"
    assert (options.limits.requests, options.limits.warmup_requests) == (40, 2)
    assert options.seed == 123
    assert options.goodput == ("time_to_first_token:75", "inter_token_latency:19.75")
    assert args.out == Path("runs/a") and args.profile_export_file == "my_export.json"
    short = bench_cmd.options_of(parse("--isl", "16", "--osl", "8", "-g", "ttft_ms=5"))
    assert short.input_tokens == TokenLengths(16) and short.output_tokens == TokenLengths(8)
    assert short.goodput == ("ttft_ms=5",)


def test_goodput_syntax_errors_show_both_syntaxes() -> None:
    with pytest.raises(ConfigError, match="time_to_first_token:300"):
        parse_goodput(["ttft=5"], CLASSES)


def test_goodput_takes_genai_perfs_syntax_beside_ours() -> None:
    overrides = parse_goodput(
        ["time_to_first_token:75", "inter_token_latency:20", "request_latency:900",
         "batch.e2e_ms=60000", "realtime.time_to_first_token:50"],
        CLASSES,
    )  # fmt: skip
    assert overrides == {
        None: {"ttft_ms": 75.0, "itl_ms": 20.0, "e2e_ms": 900.0},
        "batch": {"e2e_ms": 60000.0},
        "realtime": {"ttft_ms": 50.0},
    }


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("output_token_throughput_per_request:600", "KEY one of ttft_ms"),
        ("time_to_first_token:-1", "MS > 0"),
        ("time_to_first_token", "expected"),
        ("nightly.time_to_first_token:5", "unknown SLA class 'nightly'"),
    ],
)
def test_bad_goodput_items_are_named(item: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_goodput([item], CLASSES)
    assert caught.value.field == item


class Numbered:
    """Prompt i is `p<i>`."""

    def entry(self, index: int) -> PromptEntry:
        return PromptEntry(f"p{index}", 4)


def test_num_prompts_reuses_payloads_while_classes_follow_the_mix() -> None:
    lengths = TokenLengths(32, 8.0)
    workload = Workload(Numbered(), lengths, equal_mix(CLASSES), seed=3, unique=2)
    requests = [workload.request(i) for i in range(6)]
    assert [r.text for r in requests] == ["p0", "p1", "p0", "p1", "p0", "p1"]
    assert requests[0].max_tokens == requests[2].max_tokens == requests[4].max_tokens
    free = Workload(Numbered(), lengths, equal_mix(CLASSES), seed=3)
    assert [r.sla for r in requests] == [free.request(i).sla for i in range(6)]
    with pytest.raises(ConfigError, match="--num-prompts"):
        Workload(Numbered(), lengths, unique=0)


@pytest.fixture
def deploy(project) -> str:
    """deploy/cpu.yaml of a tmp project, with the default tokenizer in its model folder."""
    write_default_tokenizer(project.root / "assets" / "tiny-gpt2")
    return str(project.deploy)


def test_openai_flags_build_the_target_and_need_openai_url(deploy: str) -> None:
    options = bench_cmd.options_of(
        parse("--deploy", deploy, "--openai-url", "http://127.0.0.1:9000/v1",
              "--endpoint-type", "chat", "--no-min-tokens")
    )  # fmt: skip
    assert options.openai == OpenAiTarget("http://127.0.0.1:9000/v1", None, "chat", False)
    prepared = prepare(options)
    assert prepared.options.openai is not None
    assert prepared.options.openai.model == "tiny-gpt2"  # deploy/cpu.yaml's model.name
    settings = settings_of(prepared)
    assert settings["mode"] == "openai"
    assert settings["openai"] == {
        "url": "http://127.0.0.1:9000/v1",
        "model": "tiny-gpt2",
        "endpoint_type": "chat",
        "min_tokens": False,
    }
    for flag in (["--model", "m"], ["--endpoint-type", "chat"], ["--no-min-tokens"]):
        with pytest.raises(ConfigError, match="add --openai-url"):
            bench_cmd.options_of(parse(*flag))


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--openai-url", "http://h:9000/v1", "--endpoint", "x_ensemble"], "drop --endpoint"),
        (["--num-prompts", "3", "--prompts", "p.jsonl"], "synthetic prompts"),
    ],
)
def test_combinations_that_cannot_work_are_refused(argv: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):  # refused before any file is read
        prepare(bench_cmd.options_of(parse("--deploy", "no/such/deploy.yaml", *argv)))


def test_capacity_search_refuses_openai_url() -> None:
    args = parse("--capacity", "--openai-url", "http://127.0.0.1:9000/v1")
    with pytest.raises(ConfigError, match="capacity probes send through the routing SDK"):
        bench_cmd.capacity_settings_of(args)
