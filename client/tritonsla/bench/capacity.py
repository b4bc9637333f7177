"""Capacity search: the highest Poisson rate at which every class meets its SLO (pure driver).

`search(probe, settings)` calls `probe(rate)` (one run at one rate, see `capacity_probe`) and
never does I/O itself, so it runs against fake probes in tests:

1. bracket: from `start_rps`, multiply by `factor` while probes meet the SLOs (up to `max_rps`),
   or divide while they fail (down to `min_rps`);
2. bisect between the highest rate known to be low enough and the lowest failing rate until
   (fail - pass) / pass <= `tolerance`;
3. confirm: probe the candidate capacity `confirmations` more times, each with other arrivals
   (`probe(rate, attempt)`: attempt n is the n-th draw of arrivals, 0, 1, 2, ...). A rate counts
   as meeting the SLOs only when every probe at it did; a failed confirmation makes that rate
   the lowest failing one and the search goes on below it. One short probe near the edge passes
   or fails partly by chance (a p95 over a dozen realtime answers); asking twice keeps a lucky
   pass from setting the capacity.

Once a confirmation has failed, new rates are probed with that draw first (`opening_attempt`)
and confirmed with draw 0: a rate needs every draw to pass, so the order changes no verdict,
but a draw that has just proved harder usually fails first, and then the other is never needed.

A probe is "low enough" when it met every SLO, or when only throughput floors
(`min_output_tokens_per_s`) failed while it was sustained and steady: a floor is missed because
too little load was offered, so the search goes up from there, but such a rate is never the
capacity. Only a rate whose every probe met every SLO sets the capacity; with none it is 0 req/s
and the result names the probe that failed and why. Every probe is kept, in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tritonsla.bench.records import RunResult
from tritonsla.errors import ConfigError

SOURCE = "capacity settings"


@dataclass(frozen=True)
class CapacitySettings:
    """How the search probes: rates, stop rule, probe size, and the saturation criteria.

    Each probe sends Poisson arrivals for `probe_seconds` of schedule, longer when needed to send
    `min_probe_requests`, after `warmup_requests` left out of the statistics. Answers still
    missing `drain_s` after the last send are cancelled (incomplete, so misses). A probe stops
    early when more requests are in flight than `stop_in_flight_s` seconds of its offered load.
    Before the first probe, `server_warmup_s` seconds of unmeasured traffic at `start_rps` warm
    the server up (0: none).
    """

    start_rps: float = 4.0
    min_rps: float = 0.25
    max_rps: float = 64.0
    tolerance: float = 0.05
    factor: float = 2.0
    probe_seconds: float = 15.0
    min_probe_requests: int = 30
    warmup_requests: int = 5
    drain_s: float = 10.0
    stop_in_flight_s: float = 5.0
    served_fraction: float = 0.95
    drift_ratio: float = 1.5
    drift_floor_ms: float = 50.0
    drift_slo_fraction: float = 0.5
    confirmations: int = 1
    server_warmup_s: float = 10.0

    def __post_init__(self) -> None:
        positive = ("start_rps", "min_rps", "max_rps", "tolerance", "probe_seconds", "drain_s")
        positive += ("stop_in_flight_s", "drift_floor_ms")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(SOURCE, name, "must be > 0", "use a positive value")
        checks = {
            "min_rps": (self.min_rps <= self.start_rps, "must be <= start_rps"),
            "max_rps": (self.max_rps >= self.start_rps, "must be >= start_rps"),
            "tolerance": (self.tolerance < 1, "must be below 1 (0.05 = within 5%)"),
            "factor": (self.factor > 1 + self.tolerance, "must be above 1 + tolerance"),
            "min_probe_requests": (self.min_probe_requests >= 3, "must be at least 3"),
            "warmup_requests": (self.warmup_requests >= 0, "must be >= 0"),
            "confirmations": (self.confirmations >= 0, "must be >= 0"),
            "server_warmup_s": (self.server_warmup_s >= 0, "must be >= 0"),
            "served_fraction": (0 < self.served_fraction <= 1, "must be in (0, 1]"),
            "drift_ratio": (self.drift_ratio >= 1, "must be >= 1"),
            "drift_slo_fraction": (0 <= self.drift_slo_fraction < 1, "must be in [0, 1)"),
        }
        for name, (ok, problem) in checks.items():
            if not ok:
                raise ConfigError(SOURCE, name, problem, f"change {name}")


@dataclass(frozen=True)
class Drift:
    """p95 of one judged latency of one class, first third against last third of the run.

    `drifted` is None when a third holds too few requests of the class to judge.
    """

    sla: str
    metric: str
    first_p95_ms: float | None
    last_p95_ms: float | None
    limit_ms: float | None
    drifted: bool | None


@dataclass(frozen=True)
class Probe:
    """One run at one rate and how it was judged.

    `slo_met`: every class's verdict passed, the run was sustained and no class drifted.
    `below_floor`: not met only because throughput floors failed (the load was too low).
    `attempt`: which draw of arrivals it sent, 0, 1, 2, ...: every probe at one rate uses
    another draw (the first usually draw 0, see `opening_attempt`).
    """

    rate: float
    slo_met: bool
    attempt: int = 0
    below_floor: bool = False
    sustained: bool = True
    stopped_early: bool = False
    offered_rps: float | None = None
    served_rps: float | None = None
    goodput_rps: float | None = None
    duration_s: float = 0.0
    verdicts: dict[str, bool | None] = field(default_factory=dict)
    p95_ms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    drift: tuple[Drift, ...] = ()
    reasons: tuple[str, ...] = ()
    run: RunResult | None = None

    @property
    def low_enough(self) -> bool:
        """The search may look above this rate."""
        return self.slo_met or self.below_floor


@dataclass(frozen=True)
class CapacityResult:
    """The capacity, every probe in order, and what limits it.

    `capacity_probe` is the first probe at the capacity rate (its confirmations met the SLOs
    too); `limiting` is the lowest failing probe above the capacity (None when every probe up to
    `max_rps` was low enough); `reason` says in words why the capacity is what it is.
    `capacity_rps` is the Poisson rate the search set; `offered_capacity_rps` the rate the
    capacity probe actually sent, as measured from its schedule: the load that was shown to be
    served within the SLOs (`capacity_probe` arrivals offer exactly their rate, so the two agree
    up to rounding; a probe function with plain Poisson draws can be tens of percent off).
    """

    capacity_rps: float
    probes: tuple[Probe, ...]
    capacity_probe: Probe | None
    limiting: Probe | None
    reason: str
    settings: CapacitySettings

    @property
    def highest_met_rps(self) -> float:
        """The highest rate at which any probe met every SLO (0 when none did).

        Above the capacity when a probe passed at a rate that another probe, at it or below,
        failed: how far the run's own pass/fail edge is blurred by bursts and timing."""
        return max((p.rate for p in self.probes if p.slo_met), default=0.0)

    @property
    def offered_capacity_rps(self) -> float:
        """Requests/s the capacity probe offered as drawn; 0 when no probe met the SLOs."""
        probe = self.capacity_probe
        if probe is None:
            return 0.0
        return probe.offered_rps if probe.offered_rps is not None else probe.rate


ProbeFn = Callable[[float, int], Awaitable[Probe]]
"""`probe(rate, attempt)`: one run at `rate`; attempt 0 first, then confirmations with other
arrivals."""


def next_rate(low: Probe | None, high: Probe | None, settings: CapacitySettings) -> float | None:
    """The rate to probe next from the bracket so far, or None when the search is over."""
    s = settings
    if low is None and high is None:
        return s.start_rps
    if high is None:  # everything so far was low enough: go up
        assert low is not None
        return None if low.rate >= s.max_rps else min(_round(low.rate * s.factor), s.max_rps)
    if low is None:  # everything so far failed: go down
        return None if high.rate <= s.min_rps else max(_round(high.rate / s.factor), s.min_rps)
    if (high.rate - low.rate) / low.rate <= s.tolerance + ROUNDING:
        return None
    return _round((low.rate + high.rate) / 2)


ROUNDING = 1e-3
"""Slack of the tolerance test for rates rounded to 4 significant digits: the midpoint of 4.375
and 4.8125 is probed as 4.594, and the bracket [4.375, 4.594] is then 5.006% wide, not 5%."""


def _round(rate: float) -> float:
    """A probed rate to 4 significant digits (6.929, not 6.92928), as reports show it."""
    return float(f"{rate:.4g}")


def _why(probe: Probe) -> str:
    return "; ".join(probe.reasons) or "it did not meet the SLOs"


def conclude(
    probes: tuple[Probe, ...], high: Probe | None, settings: CapacitySettings
) -> CapacityResult:
    """The result once `next_rate` says the search is over; `high` is the lowest failing probe.

    The capacity is the highest rate below `high` whose every probe met every SLO.
    """
    below = [p for p in probes if high is None or p.rate < high.rate]
    met = [p for p in below if _rate_met(probes, p.rate) and _opens(probes, p)]
    if met:
        best = max(met, key=lambda p: p.rate)
        if high is None:
            reason = (
                f"every probe up to max_rps {settings.max_rps:g} req/s met every SLO; the "
                "capacity is at least that (raise --max-rate to look further)"
            )
        else:
            reason = f"{high.rate:g} req/s did not meet the SLOs: {_why(high)}"
        return CapacityResult(best.rate, probes, best, high, reason, settings)
    floors = [p for p in below if p.below_floor]
    if high is None:
        top = max(floors, key=lambda p: p.rate)
        reason = (
            f"no probe met every SLO up to max_rps {settings.max_rps:g} req/s: at "
            f"{top.rate:g} req/s {_why(top)}"
        )
        return CapacityResult(0.0, probes, None, top, reason, settings)
    if floors:
        top = max(floors, key=lambda p: p.rate)
        reason = (
            f"no rate met every SLO: at {top.rate:g} req/s {_why(top)}; at {high.rate:g} "
            f"req/s {_why(high)}"
        )
    else:
        reason = f"even {high.rate:g} req/s (the lowest probed) failed: {_why(high)}"
    return CapacityResult(0.0, probes, None, high, reason, settings)


def _at(probes: Sequence[Probe], rate: float) -> list[Probe]:
    return [p for p in probes if p.rate == rate]


def _rate_met(probes: Sequence[Probe], rate: float) -> bool:
    return all(p.slo_met for p in _at(probes, rate))


def _opens(probes: Sequence[Probe], probe: Probe) -> bool:
    """`probe` is the first one at its rate (the one bracketing and bisecting go by)."""
    return _at(probes, probe.rate)[0] is probe


def opening_attempt(probes: Sequence[Probe]) -> int:
    """The draw a new rate is probed with first: that of the latest failed confirmation (a
    failing probe that was not the first at its rate), else 0."""
    for probe in reversed(probes):
        if not probe.low_enough and not _opens(probes, probe):
            return probe.attempt
    return 0


def bracket(probes: Sequence[Probe]) -> tuple[Probe | None, Probe | None]:
    """(low, high): the highest rate below `high` whose every probe was low enough, and the
    first probe to fail at the lowest rate where any probe failed."""
    failed = [p for p in probes if not p.low_enough]
    high = min(failed, key=lambda p: p.rate, default=None)
    low_enough = [
        p
        for p in probes
        if _opens(probes, p)
        and (high is None or p.rate < high.rate)
        and all(q.low_enough for q in _at(probes, p.rate))
    ]
    return max(low_enough, key=lambda p: p.rate, default=None), high


def to_confirm(probes: Sequence[Probe], settings: CapacitySettings) -> tuple[float, int] | None:
    """(rate, attempt) of the next confirmation of the candidate capacity, None when confirmed
    (or when there is no candidate)."""
    _, high = bracket(probes)
    candidate = conclude(tuple(probes), high, settings).capacity_probe
    if candidate is None:
        return None
    drawn = {p.attempt for p in _at(probes, candidate.rate)}
    if len(drawn) > settings.confirmations:
        return None
    return candidate.rate, next(n for n in range(len(drawn) + 1) if n not in drawn)


async def search(
    probe: ProbeFn,
    settings: CapacitySettings,
    on_probe: Callable[[Probe], None] | None = None,
) -> CapacityResult:
    """Bracket, bisect, then confirm; `on_probe` sees each probe as it completes."""
    probes: list[Probe] = []
    while True:
        low, high = bracket(probes)
        rate = next_rate(low, high, settings)
        if rate is not None:
            attempt = opening_attempt(probes)
        elif (confirmation := to_confirm(probes, settings)) is not None:
            rate, attempt = confirmation
        else:
            return conclude(tuple(probes), high, settings)
        result = await probe(rate, attempt)
        probes.append(result)
        if on_probe is not None:
            on_probe(result)
