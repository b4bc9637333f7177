"""Capacity probes with fake senders, a run's stop event, the JSON and console output, the CLI."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from benchkit import fake_sender
from rich.console import Console
from test_capacity_saturation import OBJECTIVES, run_of, steady

from tritonsla.bench.capacity import CapacitySettings, Probe, search
from tritonsla.bench.capacity_probe import (
    in_flight_limit,
    probe_arrivals,
    probe_limits,
    run_probe,
    warm_up,
)
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.report.capacity_report import (
    capacity_to_json,
    print_capacity,
    probe_line,
)
from tritonsla.bench.runner import run_load
from tritonsla.bench.saturation import judge
from tritonsla.bench.schedule import Constant, Limits, Slot
from tritonsla.bench.workload import BenchRequest, PromptEntry, PromptFile, TokenLengths, Workload
from tritonsla.cli import bench_cmd
from tritonsla.errors import ConfigError
from tritonsla.profiles.schema import Slo

WORKLOAD = Workload(
    PromptFile(Path("inline"), (PromptEntry("hi", 1, 4, "realtime"),)), TokenLengths(4)
)
PREPARED = SimpleNamespace(
    workload=WORKLOAD,
    objectives={"realtime": Slo(e2e_ms=1000)},
    servers=(),
    options=SimpleNamespace(seed=0),
)


async def stuck(request: BenchRequest, slot: Slot) -> RequestRecord:
    await asyncio.sleep(30)
    raise AssertionError("unreachable")


def test_probe_limits_count_probe_seconds_of_requests_with_a_minimum() -> None:
    settings = CapacitySettings(probe_seconds=10, min_probe_requests=30, warmup_requests=2)
    assert probe_limits(8, settings) == Limits(requests=80, warmup_requests=2, drain_s=10)
    assert probe_limits(1, settings).requests == 30
    assert in_flight_limit(8, settings) == 40
    assert in_flight_limit(0.5, settings) == 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probe_arrivals_offer_exactly_their_rate_whatever_the_draw(seed: int) -> None:
    settings = CapacitySettings(probe_seconds=10, min_probe_requests=30, warmup_requests=6)
    arrivals = probe_arrivals(6.0, settings)
    assert arrivals.name == "poisson@6rps"
    times = list(itertools.islice(arrivals.offsets(seed), 6 + 60 + 5))
    measured = times[6:66]
    assert (len(measured) - 1) / (measured[-1] - measured[0]) == pytest.approx(6.0)
    gaps = np.diff(measured)
    assert gaps.std() / gaps.mean() > 0.6  # still Poisson-like bursts (exponential: ~1)
    assert times[66:] == sorted(times[66:]) and times[66] > times[65]


def test_probe_arrivals_keep_their_shape_across_rates() -> None:
    # Common random numbers: one seed gives the same pattern at every rate, scaled.
    settings = CapacitySettings(probe_seconds=10, min_probe_requests=60, warmup_requests=0)
    slow = list(itertools.islice(probe_arrivals(3.0, settings).offsets(0), 60))
    fast = list(itertools.islice(probe_arrivals(6.0, settings).offsets(0), 60))
    assert np.allclose(np.array(slow) / 2, fast)


def test_a_confirmation_draws_other_arrivals_at_the_same_rate() -> None:
    settings = CapacitySettings(probe_seconds=1, min_probe_requests=10, warmup_requests=0)

    def gaps(attempt: int) -> list[float]:
        probe = asyncio.run(
            run_probe(20, PREPARED, fake_sender(0.001), settings, attempt=attempt)  # type: ignore[arg-type]
        )
        assert probe.attempt == attempt and probe.offered_rps == pytest.approx(20)
        return np.diff([r.scheduled for r in probe.run.records]).round(4).tolist()

    assert gaps(0) != gaps(1)


def test_a_probe_that_keeps_up_meets_the_slo() -> None:
    settings = CapacitySettings(probe_seconds=1, min_probe_requests=10, warmup_requests=2)
    probe = asyncio.run(run_probe(20, PREPARED, fake_sender(0.001), settings))  # type: ignore[arg-type]
    assert probe.slo_met and probe.sustained and not probe.stopped_early, probe.reasons
    assert probe.run is not None and probe.run.name == "poisson@20rps"
    assert sum(r.warmup for r in probe.run.records) == 2


class Names:
    """A progress hook that keeps the names of the runs it is shown."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def start(self, name: str, total: int | None) -> None:
        self.names.append(name)

    def advance(self, record: RequestRecord) -> None:
        pass

    def finish(self) -> None:
        pass


def test_the_warm_up_sends_its_seconds_of_the_start_rate_shown_as_the_warm_up() -> None:
    settings = CapacitySettings(start_rps=40, server_warmup_s=0.25)
    names = Names()
    sent = asyncio.run(warm_up(PREPARED, fake_sender(0.001), settings, names))  # type: ignore[arg-type]
    assert sent == 10
    assert names.names == ["warm-up poisson@40rps"]


def test_no_warm_up_when_its_seconds_are_zero() -> None:
    settings = CapacitySettings(server_warmup_s=0)
    assert asyncio.run(warm_up(PREPARED, stuck, settings)) == 0  # type: ignore[arg-type]


def test_a_probe_whose_server_stops_answering_stops_early() -> None:
    settings = CapacitySettings(probe_seconds=5, min_probe_requests=10, stop_in_flight_s=0.1)
    probe = asyncio.run(run_probe(40, PREPARED, stuck, settings))  # type: ignore[arg-type]
    assert probe.stopped_early and not probe.slo_met
    assert probe.reasons[0].startswith("stopped early after")
    seen = re.search(r"(\d+) requests in flight, more than 0.1 s", probe.reasons[0])
    assert seen and int(seen.group(1)) > 10  # STOP_MIN_IN_FLIGHT: never stops at 10 or fewer
    records = probe.run.records
    assert int(seen.group(1)) <= len(records) < 40 * 5  # far fewer than the whole probe sends
    assert {r.status for r in records} == {"incomplete"}


def test_setting_stop_cancels_what_is_in_flight_and_keeps_its_records() -> None:
    async def main() -> list[RequestRecord]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)
        return await run_load(
            Constant(20), Limits(duration_s=30, drain_s=30), WORKLOAD, stuck, stop=stop
        )

    records = asyncio.run(main())
    assert 3 <= len(records) < 600
    assert all(r.status == "incomplete" for r in records)


def test_setting_stop_during_the_drain_ends_it() -> None:
    async def main() -> list[RequestRecord]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await run_load(
            Constant(50), Limits(requests=5, drain_s=60), WORKLOAD, stuck, stop=stop
        )

    records = asyncio.run(main())
    assert len(records) == 5 and all(r.status == "incomplete" for r in records)


def result_of_fakes():
    async def probe(rate: float, attempt: int) -> Probe:
        if rate <= 6:
            judged = judge(rate, run_of(steady()), OBJECTIVES, CapacitySettings(), duration_s=15)
            return replace(judged, attempt=attempt)
        return Probe(
            rate, slo_met=False, sustained=False, offered_rps=rate, served_rps=rate * 0.8,
            reasons=("not sustained: served 80%",), run=run_of(steady()),
        )  # fmt: skip

    return asyncio.run(search(probe, CapacitySettings(start_rps=4, max_rps=16)))


def test_capacity_json_shape() -> None:
    result = result_of_fakes()
    document = json.loads(json.dumps(capacity_to_json(result)))
    assert document["format"] == "tritonsla-capacity/1"
    assert document["capacity_rps"] == result.capacity_rps
    assert document["settings"]["tolerance"] == 0.05
    probes = document["probes"]
    assert [p["rate_rps"] for p in probes] == [p.rate for p in result.probes]
    assert [p["attempt"] for p in probes] == [p.attempt for p in result.probes]
    assert probes[-1]["attempt"] == 1  # the capacity, confirmed
    assert probes[document["capacity_probe"]]["slo_met"] is True
    assert probes[document["limiting_probe"]]["reasons"] == ["not sustained: served 80%"]
    first = probes[0]
    assert set(first) >= {
        "offered_rps", "served_rps", "goodput_rps", "sustained", "below_floor", "stopped_early",
        "duration_s", "verdicts", "p95_ms", "drift", "run",
    }  # fmt: skip
    assert first["p95_ms"]["realtime"]["ttft_ms"] == pytest.approx(50)
    assert first["drift"][0]["sla"] == "realtime"
    assert first["run"]["summary"]["classes"]["realtime"]["counts"]["total"] == 60


def test_console_shows_every_probe_and_the_capacity() -> None:
    result = result_of_fakes()
    console = Console(record=True, width=200)
    print_capacity(console, result)
    text = console.export_text()
    assert f"capacity: Poisson rate {result.capacity_rps:g} req/s" in text
    assert f"{result.offered_capacity_rps:.2f} req/s offered as drawn" in text
    assert text.count("MET") == sum(p.slo_met for p in result.probes)
    line = probe_line(2, result.probes[1])
    assert line.startswith("probe 2: 8 req/s → offered 8.00, served 6.40 (80%)")
    assert "  - not sustained" in line
    assert "req/s (arrival draw 2) → offered" in probe_line(9, result.probes[-1])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tritonsla")
    bench_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_capacity_flags_make_settings() -> None:
    args = parse(
        "--capacity", "--start-rate", "8", "--min-rate", "1", "--max-rate", "32",
        "--tolerance", "0.1", "--probe-seconds", "6", "--probe-requests", "12",
        "--warmup-requests", "3", "--drain-timeout", "5", "--confirmations", "2",
    )  # fmt: skip
    assert args.capacity
    assert bench_cmd.capacity_settings_of(args) == CapacitySettings(
        start_rps=8, min_rps=1, max_rps=32, tolerance=0.1, probe_seconds=6,
        min_probe_requests=12, warmup_requests=3, drain_s=5, confirmations=2,
    )  # fmt: skip
    assert bench_cmd.capacity_settings_of(parse("--capacity")) == CapacitySettings()


def test_bench_defaults_are_unchanged_by_the_capacity_flags() -> None:
    assert bench_cmd.options_of(parse()).limits == Limits(requests=100)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--request-rate", "4"], "--request-rate"),
        (["--sweep", "rate=1,2"], "--sweep"),
        (["--requests", "50"], "--requests"),
        (["--duration", "10"], "--duration"),
        (["--arrival", "gamma"], "--arrival"),
        (["--warmup-s", "2"], "--warmup-s"),
        (["--start-rate", "100"], "--max-rate"),
        (["--min-rate", "8"], "--min-rate"),
        (["--tolerance", "2"], "--tolerance"),
        (["--probe-requests", "2"], "--probe-requests"),
    ],
)
def test_bad_capacity_flags_name_the_flag_and_the_fix(argv: list[str], flag: str) -> None:
    with pytest.raises(ConfigError) as error:
        bench_cmd.capacity_settings_of(parse("--capacity", *argv))
    assert error.value.field == flag
    assert "Fix:" in str(error.value)


def test_bad_capacity_numbers_are_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit):
        parse("--capacity", "--start-rate", "-1")
