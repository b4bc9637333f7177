"""The whole plan of a deployment: per class, the engine fitted to its measurements, how well
the simulation predicts them, its capacity, its replicas, and the planned replicas' simulated
percentiles at the forecast (pure; deterministic by seed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.k8s.spec import replica_gpus
from tritonsla.plan.check import (
    Comparison,
    measured_capacity,
    meets,
    plan_percentiles,
    simulated_capacity,
    slo_metrics,
    validate_runs,
)
from tritonsla.plan.engine_model import CalibrationError, EngineModel, calibrate
from tritonsla.plan.forecast import Forecast
from tritonsla.plan.measurements import ClassRun
from tritonsla.plan.simulate import Traffic
from tritonsla.plan.sizing import ClassPlan, size_class
from tritonsla.profiles.loading import Deployment, display_path


@dataclass(frozen=True)
class ClassResult:
    """Everything the plan says of one class."""

    plan: ClassPlan
    model: EngineModel
    comparisons: tuple[Comparison, ...]
    simulated_capacity_rps: float
    limits: dict[str, float]
    simulated: dict[str, float | None]
    holds: bool

    @property
    def trusted(self) -> bool:
        """The simulation predicted every measured run within the tolerance."""
        return bool(self.comparisons) and all(c.within for c in self.comparisons)


@dataclass(frozen=True)
class Plan:
    classes: tuple[ClassResult, ...]
    headroom: float
    total_rps: float

    @property
    def gpus(self) -> int:
        return sum(c.plan.gpus for c in self.classes)

    @property
    def ok(self) -> bool:
        return all(c.trusted and c.holds for c in self.classes)

    def bounds(self) -> dict[str, tuple[int, int]]:
        """HPA bounds per class, as `render --target k8s` takes them."""
        return {c.plan.sla: (c.plan.min_replicas, c.plan.max_replicas) for c in self.classes}


def make_plan(
    dep: Deployment,
    forecast: Forecast,
    measurements: dict[str, list[ClassRun]],
    capacities: dict[str, tuple[float, Path]],
    *,
    headroom: float | None = None,
    peak_factor: float = 2.0,
    seconds: float = 120.0,
) -> Plan:
    """Fit, check and size every class; ConfigErrors name what is missing or unusable."""
    spare = forecast.headroom if headroom is None else headroom
    gpus = replica_gpus(dep)
    problems: list[ConfigError] = []
    results = []
    for sla, profile in dep.profiles.items():
        runs = measurements.get(sla)
        if not runs:
            problems.append(
                ConfigError(
                    "--measurements",
                    sla,
                    f"no bench runs of class `{sla}`",
                    f"pass --measurements {sla}=<summary.json of bench --mix {sla}=1>",
                )
            )
            continue
        slots = profile.batching.max_batch_size * profile.instances.tensorrt_llm
        try:
            model = calibrate(runs, slots, streamed=profile.streaming)
        except CalibrationError as error:
            problems.append(ConfigError("--measurements", sla, str(error), "add those runs"))
            continue
        wanted = forecast.classes[sla]
        modelled = simulated_capacity(
            model, wanted.input_tokens, wanted.output_tokens, profile.slo, seconds=seconds
        )
        measured = measured_capacity(runs, profile.slo)
        if sla in capacities:
            capacity, path = capacities[sla]
            source = display_path(path)
        elif measured is not None:
            capacity, load = measured
            source = f"met the SLO at {load}"
        else:
            problems.append(
                ConfigError(
                    "--measurements",
                    sla,
                    f"no open-loop run of `{sla}` met its SLO, so its capacity is unknown",
                    f"bench it at a lower rate, or pass --capacity {sla}=<capacity.json>",
                )
            )
            continue
        try:
            sized = size_class(
                sla,
                wanted.requests_per_s,
                capacity,
                source,
                headroom=spare,
                peak_factor=peak_factor,
                gpus_per_replica=gpus,
            )
        except ConfigError as error:
            problems.append(error)
            continue
        traffic = Traffic(wanted.requests_per_s, wanted.input_tokens, wanted.output_tokens)
        simulated, observed = plan_percentiles(
            model, sized.replicas, traffic, profile.slo, seconds=seconds
        )
        results.append(
            ClassResult(
                sized,
                model,
                tuple(validate_runs(model, runs, profile.slo)),
                modelled,
                slo_metrics(profile.slo),
                simulated,
                wanted.requests_per_s == 0 or meets(observed, profile.slo),
            )
        )
    if problems:
        raise ConfigErrors(problems)
    return Plan(tuple(results), spare, forecast.total_rps)
