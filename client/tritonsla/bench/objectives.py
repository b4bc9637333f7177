"""SLO objectives per class: the deployment's profiles, with `--goodput` overrides (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Slo

GOODPUT_KEYS: tuple[str, ...] = ("ttft_ms", "itl_ms", "e2e_ms")
_EXAMPLE = "write e.g. ttft_ms=300 (every class) or realtime.ttft_ms=300 (one class)"


def deployment_objectives(deployment: Deployment) -> dict[str, Slo]:
    """Each class's merged `slo` (profile, then deploy overrides, then --set)."""
    return {name: profile.slo for name, profile in deployment.profiles.items()}


def parse_goodput(specs: Iterable[str], classes: Iterable[str]) -> dict[str | None, dict]:
    """`[CLASS.]KEY=MS` items (comma-separated or repeated) -> overrides; None = every class."""
    known = list(classes)
    overrides: dict[str | None, dict] = {}
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            target, sep, value = item.partition("=")
            sla, dot, key = target.rpartition(".")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not sep or key not in GOODPUT_KEYS or not (number > 0 and math.isfinite(number)):
                raise ConfigError(
                    "--goodput",
                    item,
                    f"expected [CLASS.]KEY=MS with KEY one of {', '.join(GOODPUT_KEYS)} and MS > 0",
                    _EXAMPLE,
                )
            if dot and sla not in known:
                raise ConfigError(
                    "--goodput",
                    item,
                    f"unknown SLA class {sla!r}",
                    f"available: {', '.join(known)}",
                )
            overrides.setdefault(sla if dot else None, {})[key] = number
    return overrides


def with_overrides(
    objectives: Mapping[str, Slo], overrides: Mapping[str | None, dict]
) -> dict[str, Slo]:
    """Objectives with the overrides applied: every-class values first, then per-class ones."""
    result = {}
    for name, slo in objectives.items():
        update = {**overrides.get(None, {}), **overrides.get(name, {})}
        result[name] = slo.model_copy(update=update) if update else slo
    return result
