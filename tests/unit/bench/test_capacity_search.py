"""The capacity search driver against fake probes (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from tritonsla.bench.capacity import CapacitySettings, Probe, next_rate, search
from tritonsla.errors import ConfigError

SETTINGS = CapacitySettings(start_rps=4, min_rps=0.5, max_rps=64, tolerance=0.05)


def fake(decide: Callable[[float], Probe]) -> Callable:
    """A probe function whose every attempt at a rate gets `decide(rate)`."""

    async def probe(rate: float, attempt: int) -> Probe:
        return replace(decide(rate), attempt=attempt)

    return probe


def capacity_of(limit: float) -> Callable[[float], Probe]:
    """A server that meets every SLO up to `limit` req/s."""

    def decide(rate: float) -> Probe:
        if rate <= limit:
            return Probe(rate, slo_met=True)
        return Probe(rate, slo_met=False, sustained=False, reasons=(f"not sustained at {rate}",))

    return decide


def run(decide: Callable[[float], Probe], settings: CapacitySettings = SETTINGS, probe=None):
    seen: list[Probe] = []
    result = asyncio.run(search(probe or fake(decide), settings, seen.append))
    assert list(result.probes) == seen
    return result


@pytest.mark.parametrize("limit", [4.0, 5.3, 11.0, 30.0, 0.9])
def test_monotone_capacity_is_found_within_the_tolerance(limit: float) -> None:
    result = run(capacity_of(limit))
    assert result.capacity_rps <= limit
    assert result.limiting is not None and result.limiting.rate > limit
    assert (result.limiting.rate - result.capacity_rps) / result.capacity_rps <= 0.05
    assert result.capacity_probe is not None and result.capacity_probe.slo_met
    assert result.probes[0].rate == 4
    assert str(result.limiting.rate).rstrip("0").rstrip(".") in result.reason


def test_brackets_up_by_doubling_then_bisects() -> None:
    rates = [p.rate for p in run(capacity_of(11.0)).probes]
    assert rates[:3] == [4, 8, 16]
    assert all(8 < r < 16 for r in rates[3:])


def test_brackets_down_by_halving_when_the_start_fails() -> None:
    rates = [p.rate for p in run(capacity_of(0.9)).probes]
    assert rates[:4] == [4, 2, 1, 0.5]


def test_every_probe_fails_gives_zero_and_the_failing_probe() -> None:
    result = run(lambda rate: Probe(rate, slo_met=False, reasons=("realtime: ttft_ms too high",)))
    assert result.capacity_rps == 0
    assert result.capacity_probe is None
    assert [p.rate for p in result.probes] == [4, 2, 1, 0.5]
    assert result.limiting is result.probes[-1]
    assert "even 0.5 req/s" in result.reason and "ttft_ms too high" in result.reason


def test_every_probe_passes_up_to_the_max() -> None:
    result = run(capacity_of(1000.0))
    assert [p.rate for p in result.probes] == [4, 8, 16, 32, 64, 64]  # then confirmed
    assert result.capacity_rps == 64
    assert result.limiting is None
    assert "at least" in result.reason


def test_max_rate_is_probed_exactly_when_doubling_overshoots_it() -> None:
    settings = CapacitySettings(start_rps=4, min_rps=1, max_rps=10)
    assert [p.rate for p in run(capacity_of(1000.0), settings).probes] == [4, 8, 10, 10]


def test_noise_never_makes_a_failed_rate_the_capacity() -> None:
    outcomes = {4: True, 8: False, 6: True, 7: False, 6.5: False, 6.25: True}

    def decide(rate: float) -> Probe:
        return Probe(rate, slo_met=outcomes[rate])

    result = run(decide)
    assert [p.rate for p in result.probes] == [4, 8, 6, 7, 6.5, 6.25, 6.25]
    assert result.capacity_rps == 6.25
    assert result.limiting is not None and result.limiting.rate == 6.5


def test_a_pass_above_a_failure_while_bracketing_down_is_a_lower_bound() -> None:
    outcomes = {4: False, 2: True, 3: False, 2.5: True, 2.75: False, 2.625: True}
    result = run(lambda rate: Probe(rate, slo_met=outcomes[rate]))
    assert result.capacity_rps == 2.625


def test_throughput_floor_misses_send_the_search_up_but_never_set_the_capacity() -> None:
    def decide(rate: float) -> Probe:
        if rate < 3:
            return Probe(rate, slo_met=False, below_floor=True, reasons=("batch: floor",))
        return capacity_of(10)(rate)

    settings = CapacitySettings(start_rps=1, min_rps=0.5, max_rps=64)
    result = run(decide, settings)
    assert [p.rate for p in result.probes][:5] == [1, 2, 4, 8, 16]
    assert 9.5 <= result.capacity_rps <= 10


def test_floors_missed_below_and_latency_above_gives_zero_naming_both() -> None:
    def decide(rate: float) -> Probe:
        if rate < 8:
            return Probe(rate, slo_met=False, below_floor=True, reasons=("batch: floor",))
        return Probe(rate, slo_met=False, reasons=("realtime: ttft",))

    result = run(decide)
    assert result.capacity_rps == 0
    assert "batch: floor" in result.reason and "realtime: ttft" in result.reason
    assert result.limiting is not None and not result.limiting.below_floor


def test_floors_missed_up_to_the_max_gives_zero() -> None:
    result = run(lambda rate: Probe(rate, slo_met=False, below_floor=True, reasons=("floor",)))
    assert result.capacity_rps == 0
    assert result.limiting is not None and result.limiting.rate == 64
    assert "up to max_rps 64" in result.reason


def test_the_capacity_is_confirmed_with_other_arrivals() -> None:
    result = run(capacity_of(11.0))
    confirmation = result.probes[-1]
    assert confirmation.rate == result.capacity_rps and confirmation.attempt == 1
    assert result.capacity_probe is not None and result.capacity_probe.attempt == 0
    assert sum(p.rate == result.capacity_rps for p in result.probes) == 2


def test_more_confirmations_when_asked_and_none_when_not() -> None:
    for confirmations in (0, 2):
        settings = CapacitySettings(start_rps=4, confirmations=confirmations)
        result = run(capacity_of(11.0), settings)
        at_capacity = [p.attempt for p in result.probes if p.rate == result.capacity_rps]
        assert at_capacity == list(range(confirmations + 1))


def test_a_lucky_pass_that_fails_its_confirmation_is_not_the_capacity() -> None:
    # 6.5 passes once by chance, then fails with other arrivals: the search goes on below it.
    outcomes = {(4, 0): True, (8, 0): False, (6, 0): True, (7, 0): False, (6.5, 0): True}
    outcomes |= {(6.75, 0): False, (6.5, 1): False, (6.25, 0): True, (6.25, 1): True}

    async def probe(rate: float, attempt: int) -> Probe:
        return Probe(rate, slo_met=outcomes[(rate, attempt)], attempt=attempt)

    result = run(capacity_of(0), probe=probe)
    assert [(p.rate, p.attempt) for p in result.probes] == [
        (4, 0),
        (8, 0),
        (6, 0),
        (7, 0),
        (6.5, 0),
        (6.75, 0),
        (6.5, 1),
        (6.25, 1),
        (6.25, 0),
    ]  # fmt: skip  (after draw 1 failed a confirmation, the new rate 6.25 opens with draw 1)
    assert result.capacity_rps == 6.25
    assert result.capacity_probe is not None and result.capacity_probe.attempt == 1
    assert result.limiting is not None and (result.limiting.rate, result.limiting.attempt) == (
        6.5,
        1,
    )


def test_a_failed_confirmation_at_the_bottom_of_the_bracket_falls_back_to_a_lower_pass() -> None:
    outcomes = {(4, 0): True, (8, 0): False, (6, 0): True, (7, 0): False, (6.5, 0): False}
    outcomes |= {(6.25, 0): True, (6.25, 1): False, (6, 1): True}

    async def probe(rate: float, attempt: int) -> Probe:
        return Probe(rate, slo_met=outcomes[(rate, attempt)], attempt=attempt)

    result = run(capacity_of(0), probe=probe)
    assert [(p.rate, p.attempt) for p in result.probes][-3:] == [(6.25, 0), (6.25, 1), (6, 1)]
    assert result.capacity_rps == 6


def test_after_a_failed_confirmation_new_rates_open_with_its_draw_and_stop_when_it_fails() -> None:
    # draw 1 is the harder one: it fails from 6.5 up, draw 0 only from 7.5
    def probe_at(rate: float, attempt: int) -> Probe:
        return Probe(rate, slo_met=rate < (6.5 if attempt else 7.5), attempt=attempt)

    async def probe(rate: float, attempt: int) -> Probe:
        return probe_at(rate, attempt)

    result = run(capacity_of(0), replace(SETTINGS, start_rps=6, factor=1.2), probe=probe)
    assert [(p.rate, p.attempt) for p in result.probes] == [
        (6, 0),
        (7.2, 0),
        (8.64, 0),
        (7.92, 0),
        (7.56, 0),
        (7.2, 1),
        (6.6, 1),
        (6.3, 1),
        (6.3, 0),
    ]  # fmt: skip  (6.6 and 6.3 open with draw 1; 6.6 needs no draw 0 once draw 1 failed)
    assert result.capacity_rps == 6.3
    assert all(p.slo_met for p in result.probes if p.rate == 6.3)
    assert result.limiting is not None and (result.limiting.rate, result.limiting.attempt) == (
        6.6,
        1,
    )


def test_next_rate_stops_within_the_tolerance() -> None:
    low, high = Probe(10, slo_met=True), Probe(10.5, slo_met=False)
    assert next_rate(low, high, SETTINGS) is None
    assert next_rate(low, Probe(10.6, slo_met=False), SETTINGS) == 10.3


def test_a_bracket_within_the_tolerance_but_for_rounding_ends_the_search() -> None:
    # 4.594 is the midpoint of 4.375 and 4.8125 rounded: the bracket is 5% wide but for it
    assert next_rate(Probe(4.375, slo_met=True), Probe(4.594, slo_met=False), SETTINGS) is None
    assert next_rate(Probe(4.375, slo_met=True), Probe(4.6, slo_met=False), SETTINGS) == 4.487


def test_bracket_steps_are_rounded_to_four_significant_digits() -> None:
    fine = replace(SETTINGS, factor=1.2)
    assert next_rate(Probe(5.7744, slo_met=True), None, fine) == 6.929
    assert next_rate(None, Probe(4.812, slo_met=False), fine) == 4.01


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_rps": 8}, "min_rps"),
        ({"max_rps": 2}, "max_rps"),
        ({"tolerance": 0}, "tolerance"),
        ({"tolerance": 1.5}, "tolerance"),
        ({"served_fraction": 1.2}, "served_fraction"),
        ({"min_probe_requests": 1}, "min_probe_requests"),
        ({"drift_ratio": 0.9}, "drift_ratio"),
        ({"server_warmup_s": -1}, "server_warmup_s"),
    ],
)
def test_bad_settings_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        CapacitySettings(**changes)
    assert error.value.field == field
