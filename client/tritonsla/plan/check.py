"""What the simulation says of measurements and plans (pure, deterministic by seed).

- `validate_runs`: the calibrated model against each measured open-loop run of the class: the
  simulated percentile of every metric the class's SLO names, beside the measured one.
- `measured_capacity`: the highest measured open-loop rate that met the SLO (a lower bound of
  the capacity when no capacity search was run);
- `simulated_capacity`: the highest Poisson rate one replica serves within the SLO (bracket,
  then bisect to 5%), printed beside the measured one.
- `plan_percentiles`: the planned replicas at the forecast: the SLO metrics' percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonsla.bench.metrics import THRESHOLDS, threshold_value
from tritonsla.plan.engine_model import EngineModel
from tritonsla.plan.measurements import ClassRun
from tritonsla.plan.simulate import Observed, Traffic, simulate
from tritonsla.profiles.schema import Slo

TOLERANCE = 0.25
"""The simulation must predict a measured percentile within 25% to be trusted."""
VALIDATION_S = 1800.0
"""Simulated seconds behind each predicted percentile: long enough that the prediction is the
model's (seeds then agree within a few percent), so the error is the model's and the run's."""


def slo_metrics(slo: Slo) -> dict[str, float]:
    """The per-request metrics the SLO bounds, with their limits (ms)."""
    limits = {metric: threshold_value(slo, metric) for metric in THRESHOLDS}
    return {metric: limit for metric, limit in limits.items() if limit is not None}


def stat_key(percentile: float) -> str:
    """The bench summary's key nearest the SLO's percentile (p50, p90, p95 or p99)."""
    return min(("p50", "p90", "p95", "p99"), key=lambda k: abs(float(k[1:]) - percentile))


@dataclass(frozen=True)
class Comparison:
    """One metric of one measured run: measured and simulated percentile (ms)."""

    load: str
    metric: str
    measured_ms: float
    simulated_ms: float

    @property
    def error(self) -> float:
        return abs(self.simulated_ms - self.measured_ms) / self.measured_ms

    @property
    def within(self) -> bool:
        return self.error <= TOLERANCE


def validate_runs(
    model: EngineModel,
    runs: list[ClassRun],
    slo: Slo,
    *,
    seconds: float = VALIDATION_S,
    seed: int = 0,
) -> list[Comparison]:
    """Simulate every open-loop run with one replica and compare the SLO's metrics."""
    key = stat_key(slo.percentile)
    found = []
    for run in runs:
        if run.kind == "concurrent":
            continue
        traffic = Traffic(run.value, run.input_tokens, round(run.output_tokens))
        observed = simulate(model, 1, traffic, seconds=seconds, seed=seed)
        for metric in slo_metrics(slo):
            measured = run.stat(metric, key)
            simulated = observed.percentile(metric, float(key[1:]))
            if measured and simulated is not None:
                found.append(Comparison(run.load, metric, measured, simulated))
    return found


def measured_capacity(runs: list[ClassRun], slo: Slo) -> tuple[float, str] | None:
    """The highest offered open-loop rate whose measured percentiles met every SLO metric, and
    that run's load name; None when no such run."""
    key = stat_key(slo.percentile)
    passing = [
        run
        for run in runs
        if run.kind != "concurrent"
        and all(
            (value := run.stat(metric, key)) is not None and value <= limit
            for metric, limit in slo_metrics(slo).items()
        )
    ]
    if not passing:
        return None
    best = max(passing, key=lambda run: run.value)
    return best.value, best.load


def meets(observed: Observed, slo: Slo) -> bool:
    """Every SLO metric's percentile within its limit, and no request left unfinished."""
    if observed.unfinished or not observed.e2e_ms:
        return False
    return all(
        (observed.percentile(metric, slo.percentile) or 0.0) <= limit
        for metric, limit in slo_metrics(slo).items()
    )


def simulated_capacity(
    model: EngineModel,
    input_tokens: float,
    output_tokens: int,
    slo: Slo,
    *,
    seconds: float,
    tolerance: float = 0.05,
) -> float:
    """The highest Poisson rate (req/s) at which one replica meets `slo`; 0 when none does."""

    def ok(rate: float) -> bool:
        traffic = Traffic(rate, input_tokens, output_tokens)
        return meets(simulate(model, 1, traffic, seconds=seconds, drain_s=120.0), slo)

    low, high = 0.0, 0.25
    while ok(high):
        low, high = high, high * 2
        if high > 10_000:
            return low
    while low == 0.0 or (high - low) / low > tolerance:
        middle = (low + high) / 2
        if middle < 0.01:
            return 0.0
        low, high = (middle, high) if ok(middle) else (low, middle)
    return low


def plan_percentiles(
    model: EngineModel,
    replicas: int,
    traffic: Traffic,
    slo: Slo,
    *,
    seconds: float,
    seed: int = 0,
) -> tuple[dict[str, float | None], Observed]:
    """The SLO metrics' percentiles of `replicas` engines at `traffic`."""
    observed = simulate(model, replicas, traffic, seconds=seconds, seed=seed)
    values = {m: observed.percentile(m, slo.percentile) for m in slo_metrics(slo)}
    return values, observed
