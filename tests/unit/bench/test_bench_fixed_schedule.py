"""Fixed schedules (given send times): parsing a trace, the strategy, the scheduler, the flag."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tritonsla.bench.schedule import FixedSchedule, Limits, Slot, schedule, schedule_times
from tritonsla.cli import bench_cmd
from tritonsla.errors import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def trace(*stamps: float, extra: str = "") -> str:
    lines = [json.dumps({"timestamp": s, "input_length": 32, "output_length": 32}) for s in stamps]
    return "\n".join(lines) + "\n" + extra


def test_timestamps_are_milliseconds_and_other_fields_are_ignored() -> None:
    assert schedule_times(trace(1000, 1012.5, 1250, extra="\n"), "t.jsonl") == [
        1.0,
        1.0125,
        1.25,
    ]


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('{"timestamp": 0}\nnot json\n', 2, "line"),
        ('{"timestamp": 0}\n{"input_length": 3}\n', 2, "timestamp"),
        ('{"timestamp": -5}\n', 1, "timestamp"),
        ('{"timestamp": "5"}\n', 1, "timestamp"),
        ("[1, 2]\n", 1, "timestamp"),
    ],
)
def test_bad_lines_are_named_by_file_and_line(text: str, line: int, field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        schedule_times(text, "t.jsonl")
    assert f"t.jsonl:{line}" in str(raised.value)
    assert field in str(raised.value)


def test_the_schedule_starts_at_zero_in_order_with_its_mean_rate() -> None:
    fixed = FixedSchedule.of([5.3, 5.0, 5.1, 5.9])
    assert fixed.times == pytest.approx((0.0, 0.1, 0.3, 0.9))
    assert fixed.rate == pytest.approx(3 / 0.9)
    assert list(fixed.offsets(seed=7)) == list(fixed.times)
    assert list(fixed.gaps(np.random.default_rng(0))) == pytest.approx([0.1, 0.2, 0.6])
    assert fixed.open_loop
    assert fixed.name == "fixed@4x3.33rps"


@pytest.mark.parametrize("times", [[], [1.0], [2.0, 2.0], [0.0, float("nan")]])
def test_degenerate_schedules_are_refused(times: list[float]) -> None:
    with pytest.raises(ConfigError, match="fixed schedule"):
        FixedSchedule.of(times)


def drive(strategy, limits: Limits) -> list[tuple[Slot, float]]:
    async def main() -> list[tuple[Slot, float]]:
        async def send(slot: Slot) -> float:
            return time.perf_counter()

        return [(o.slot, o.result) async for o in schedule(strategy, limits, send)]

    return asyncio.run(main())


def test_each_request_is_sent_at_its_time_or_later_and_the_run_ends_with_the_times() -> None:
    fixed = FixedSchedule.of([0.0, 0.004, 0.005, 0.011, 0.03])
    sent = sorted(drive(fixed, Limits(requests=100, warmup_requests=1)), key=lambda s: s[0].index)
    assert [slot.index for slot, _ in sent] == [0, 1, 2, 3, 4]
    assert [slot.warmup for slot, _ in sent] == [True, False, False, False, False]
    start = sent[0][0].scheduled
    assert [slot.scheduled - start for slot, _ in sent] == pytest.approx(list(fixed.times))
    assert all(when >= slot.scheduled for slot, when in sent)


def test_a_request_count_cuts_the_schedule_short() -> None:
    fixed = FixedSchedule.of([0.0, 0.001, 0.002, 0.003])
    assert len(drive(fixed, Limits(requests=2))) == 2


def test_the_flag_reads_the_file_and_runs_as_long_as_its_times(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text(trace(100, 150, 175))
    options = bench_cmd.options_of(parse("--fixed-schedule", str(path)))
    assert options.strategies == (FixedSchedule.of([0.1, 0.15, 0.175]),)
    assert options.limits == Limits(requests=3)
    options = bench_cmd.options_of(parse("--fixed-schedule", str(path), "--requests", "2"))
    assert options.limits == Limits(requests=2)


def test_the_flag_excludes_the_other_loads_and_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse("--fixed-schedule", "t.jsonl", "--concurrency", "2")
    missing = tmp_path / "none.jsonl"
    with pytest.raises(ConfigError, match=r"none\.jsonl"):
        bench_cmd.strategies_of(parse("--fixed-schedule", str(missing)))
