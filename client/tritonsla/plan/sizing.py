"""Replicas, GPUs and HPA bounds of each class from its forecast and per-replica capacity (pure).

A replica serves up to its measured SLO capacity. The plan runs `(1 + headroom) x forecast /
capacity` replicas, rounded up: the HPA's minimum is what the forecast needs without headroom
(at least 1), its maximum what `peak_factor` times the planned load needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tritonsla.errors import ConfigError


@dataclass(frozen=True)
class ClassPlan:
    """The plan of one class."""

    sla: str
    forecast_rps: float
    capacity_rps: float
    capacity_source: str
    replicas: int
    min_replicas: int
    max_replicas: int
    gpus: int


def size_class(
    sla: str,
    forecast_rps: float,
    capacity_rps: float,
    capacity_source: str,
    *,
    headroom: float,
    peak_factor: float,
    gpus_per_replica: int,
) -> ClassPlan:
    """Size one class; a capacity of 0 (no rate meets the SLO) is an error naming its source."""
    if capacity_rps <= 0:
        raise ConfigError(
            capacity_source,
            f"{sla}.capacity_rps",
            f"is {capacity_rps:g}: one replica meets the class's SLO at no rate",
            "relax the SLO or the profile, or measure again",
        )
    needed = forecast_rps / capacity_rps
    low = max(1, math.ceil(needed - 1e-9))
    replicas = max(low, math.ceil(needed * (1 + headroom) - 1e-9))
    high = max(replicas, math.ceil(needed * (1 + headroom) * peak_factor - 1e-9))
    return ClassPlan(
        sla,
        forecast_rps,
        capacity_rps,
        capacity_source,
        replicas,
        low,
        high,
        replicas * gpus_per_replica,
    )
