"""Misuse of every subcommand, as a user types it: one `error:` line naming the flag and what to
pass instead, exit status 2, never a traceback.

Every row runs `tritonsla.cli.main.main` in a throwaway copy of the project and fails before
anything is written or any server is called.
"""

from __future__ import annotations

import pytest

from tritonsla.cli.main import main, run
from tritonsla.cli.options import UsageError
from tritonsla.text.default_tokenizer import write_default_tokenizer

ONE_LINE = [
    # (argv, what the line must say: the flag or argument, and the fix)
    (["generate", "--deadline", "0", "hi"], "argument --deadline: expected a number > 0, got '0'"),
    (["generate", "--timeout", "0", "hi"], "argument --timeout: expected a number > 0, got '0'"),
    (["generate", "--timeout", "inf", "hi"], "argument --timeout: expected a number > 0"),
    (
        ["generate", "--max-tokens", "0", "hi"],
        "argument --max-tokens: expected a whole number >= 1",
    ),
    (["generate", "--top-p", "2", "hi"], "argument --top-p: expected a number from 0 to 1"),
    (["generate", "--top-k", "-1", "hi"], "argument --top-k: expected a whole number >= 0"),
    (["generate", "--temperature", "nan", "hi"], "argument --temperature: expected a number >= 0"),
    (["generate", "--seed", "-3", "hi"], "argument --seed: expected a whole number >= 0"),
    (["generate", "--url", "nonsense", "hi"], "argument --url: expected host:grpc_port, e.g."),
    (["generate", "--priority", "urgent", "hi"], "argument --priority: invalid choice: 'urgent'"),
    (["generate"], "the following arguments are required: prompt"),
    (["demo", "--start-rps", "x"], "argument --start-rps: expected a number > 0, got 'x'"),
    (["demo", "--start-rps", "0"], "argument --start-rps: expected a number > 0, got '0'"),
    (["demo", "--probe-seconds", "-1"], "argument --probe-seconds: expected a number > 0"),
    (["demo", "--seed", "-1"], "argument --seed: expected a whole number >= 0"),
    (["demo", "--rates", "1,2"], "unrecognized arguments: --rates 1,2"),
    (["bench", "--concurrency", "x"], "argument --concurrency: expected a whole number >= 1"),
    (["bench", "--request-rate", "0"], "argument --request-rate: expected a number > 0"),
    (["bench", "--timeout", "0"], "argument --timeout: expected a number > 0"),
    (["bench", "--warmup-requests", "-1"], "expected a whole number >= 0, got '-1'"),
    (["bench", "--url", "garbage"], "argument --url: expected host:grpc_port"),
    (["bench", "--metrics-url", "garbage"], "argument --metrics-url: expected an http URL"),
    (["bench", "--concurrency", "2", "--request-rate", "3"], "not allowed with argument"),
    (["bench", "--arrival", "burst"], "argument --arrival: invalid choice: 'burst'"),
    (["bench", "--sweep", "rate=a"], "--sweep: `rate=a`: expected concurrency=N1,N2,"),
    (["bench", "--mix", "garbage"], "--mix: `garbage`: expected CLASS=SHARE"),
    (["bench", "--goodput", "garbage"], "--goodput: `garbage`: expected [CLASS.]KEY=MS"),
    (["bench", "--capacity", "--concurrency", "2"], "--capacity: `--concurrency`"),
    (["bench", "--capacity", "--tolerance", "5"], "--capacity: `--tolerance`: must be below 1"),
    (["render", "--out"], "argument --out: expected one argument"),
    (["render", "--bogus"], "unrecognized arguments: --bogus"),
    (["serve", "--http-port", "x"], "argument --http-port: expected a port from 0 to 65535"),
    (["serve", "--grpc-port", "70000"], "argument --grpc-port: expected a port from 0 to 65535"),
    (["serve", "--metrics-port", "-1"], "argument --metrics-port: expected a port from 0 to"),
    (["serve", "--startup-timeout", "0"], "argument --startup-timeout: expected a number > 0"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    (["stop", "extra"], "unrecognized arguments: extra"),
    (["engines", "--profile", "nosuch"], "unknown profile(s) nosuch. Available: realtime,"),
    (["engines", "--bogus"], "unrecognized arguments: --bogus"),
    (["assets", "--out"], "argument --out: expected one argument"),
    (["nosuch"], "argument COMMAND: invalid choice: 'nosuch'"),
    ([], "the following arguments are required: COMMAND"),
]

CONFIG = [
    # (argv, the file or flag named, the fix): the validation report, its own format
    (["render", "--set", "garbage"], "--set: `garbage`", "Fix: write e.g. --set"),
    (["render", "--deploy", "missing.yaml"], "missing.yaml", "Fix: check the path"),
    (["serve", "--deploy", "missing.yaml"], "missing.yaml", "Fix: check the path"),
    (["generate", "--set", "garbage", "hi"], "--set: `garbage`", "Fix: write e.g. --set"),
    (["bench", "--prompts", "missing.jsonl"], "missing.jsonl", "Fix: check the path"),
    (["engines", "--deploy", "missing.yaml"], "missing.yaml", "Fix: check the path"),
    (["demo", "--allow-unequal-compute", "--out"], "argument --out", "--help"),
    (["assets", "--out", "/proc/tritonsla-not-writable"], "/proc/", ""),
]

SUBCOMMANDS = {"render", "serve", "status", "stop", "generate", "bench", "demo", "engines"}


@pytest.fixture(autouse=True)
def in_project(project, monkeypatch) -> None:
    """Run each command in a throwaway copy of deploy/, profiles/ and the default tokenizer."""
    write_default_tokenizer(project.root / "assets" / "tiny-gpt2")
    monkeypatch.chdir(project.root)


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return status, captured.err.strip().splitlines()


@pytest.mark.parametrize(("argv", "says"), ONE_LINE, ids=[" ".join(a) for a, _ in ONE_LINE])
def test_misuse_prints_one_line_naming_the_flag_and_exits_2(argv, says, capsys):
    status, lines = _run(argv, capsys)
    assert status == 2
    [line] = lines
    assert line.startswith("error: ")
    assert says in line
    command = f"tritonsla {argv[0]}" if argv and argv[0] != "nosuch" else "tritonsla"
    assert "Fix:" in line or "Available:" in line or f"see `{command} --help`" in line


@pytest.mark.parametrize(("argv", "names", "fix"), CONFIG, ids=[" ".join(a) for a, *_ in CONFIG])
def test_bad_files_and_values_are_reported_not_raised(argv, names, fix, capsys):
    status, lines = _run(argv, capsys)
    assert status == 2
    assert lines[0].startswith("error: ")
    text = "\n".join(lines)
    assert names in text and fix in text


def test_every_subcommand_has_misuse_rows():
    tried = {argv[0] for argv, _ in ONE_LINE if argv} | {argv[0] for argv, *_ in CONFIG}
    assert tried >= SUBCOMMANDS | {"assets"}


def test_run_raises_the_usage_error_for_callers_and_tests():
    with pytest.raises(UsageError, match=r"argument --deadline: expected a number > 0"):
        run(["generate", "--deadline", "0", "hi"])
