"""The plan as JSON (format tritonsla-plan/1), written in one rename, and read back for
`render --target k8s --plan`: its HPA bounds per class."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.plan.planner import Plan
from tritonsla.profiles.loading import display_path

FORMAT = "tritonsla-plan/1"


def plan_json(plan: Plan) -> dict:
    return {
        "format": FORMAT,
        "total_rps": plan.total_rps,
        "headroom": plan.headroom,
        "gpus": plan.gpus,
        "ok": plan.ok,
        "classes": {
            r.plan.sla: {
                "forecast_rps": r.plan.forecast_rps,
                "capacity_rps": r.plan.capacity_rps,
                "capacity_source": r.plan.capacity_source,
                "simulated_capacity_rps": r.simulated_capacity_rps,
                "replicas": r.plan.replicas,
                "min_replicas": r.plan.min_replicas,
                "max_replicas": r.plan.max_replicas,
                "gpus": r.plan.gpus,
                "engine_model": vars(r.model),
                "checks": [
                    {
                        "load": c.load,
                        "metric": c.metric,
                        "measured_ms": c.measured_ms,
                        "simulated_ms": c.simulated_ms,
                        "error": c.error,
                    }
                    for c in r.comparisons
                ],
                "slo_ms": r.limits,
                "simulated_ms": r.simulated,
                "holds": r.holds,
            }
            for r in plan.classes
        },
    }


def write_json(path: Path, data: dict) -> None:
    """Write `data` to `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(temp, path)


def read_bounds(path: Path) -> dict[str, tuple[int, int]]:
    """HPA (min, max) replicas per class from a plan JSON."""
    shown = display_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT}")
        return {
            sla: (int(c["min_replicas"]), int(c["max_replicas"]))
            for sla, c in data["classes"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigErrors(
            [ConfigError(shown, "classes", f"not a plan: {error}", "pass `tritonsla plan --out`")]
        ) from error
