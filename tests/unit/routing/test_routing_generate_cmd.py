"""`tritonsla generate`: flags and the summary line (served runs: tests/integration)."""

from __future__ import annotations

import argparse

import pytest

from tritonsla.cli import generate_cmd
from tritonsla.routing.result import Chunk, GenerationResult


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tritonsla")
    generate_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["generate", *argv])


def test_flags():
    args = parse(
        "--sla",
        "realtime",
        "--max-tokens",
        "8",
        "--priority",
        "high",
        "--deadline",
        "1.5",
        "--no-stream",
        "--url",
        "h:1",
        "--model",
        "batch_ensemble",
        "--set",
        "a.b=1",
        "hello",
    )
    assert (args.prompt, args.sla, args.max_tokens, args.priority) == (
        "hello",
        "realtime",
        8,
        "high",
    )
    assert (args.deadline, args.stream, args.url, args.model) == (
        1.5,
        False,
        "h:1",
        "batch_ensemble",
    )
    assert (
        args.sets == ["a.b=1"]
        and args.target == "bls"
        and args.handler is generate_cmd.run_generate
    )
    assert parse("x").stream is True


def test_priority_choices_are_checked(capsys):
    with pytest.raises(SystemExit):
        parse("--priority", "urgent", "x")
    assert (
        "invalid choice: 'urgent' (choose from 'high', 'normal', 'low')" in capsys.readouterr().err
    )


def _result(tokens: int | None, spilled: str | None = None) -> GenerationResult:
    chunks = (Chunk("a", 150_000_000), Chunk("b", 550_000_000))
    return GenerationResult(
        "ab",
        chunks,
        "realtime",
        "realtime_tensorrt_llm_bls",
        "h:1",
        "r",
        True,
        send_ns=100_000_000,
        end_ns=1_100_000_000,
        output_tokens=tokens,
        spilled_from=spilled,
    )


def test_summary_line():
    assert generate_cmd.summary(_result(20)) == (
        "realtime_tensorrt_llm_bls on h:1: TTFT 50 ms, 20 tokens in 1.00 s, 20.0 tokens/s"
    )
    assert generate_cmd.summary(_result(None, spilled="realtime")) == (
        "realtime_tensorrt_llm_bls on h:1 (spilled from realtime): TTFT 50 ms, "
        "tokens unknown (no tokenizer)"
    )
