"""SLO objectives per class: the deployment's profiles, with `--goodput` overrides (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Slo

GOODPUT_KEYS: tuple[str, ...] = ("ttft_ms", "itl_ms", "e2e_ms")
GENAI_PERF_KEYS: dict[str, str] = {
    "time_to_first_token": "ttft_ms",
    "inter_token_latency": "itl_ms",
    "request_latency": "e2e_ms",
}
"""genai-perf's goodput constraint names (milliseconds) and ours (genai_perf/parser.py,
goodput_calculator/llm_goodput_calculator.py in triton-inference-server/perf_analyzer)."""
_EXAMPLE = (
    "write e.g. ttft_ms=300 (every class), realtime.ttft_ms=300 (one class) or genai-perf's "
    "time_to_first_token:300"
)


def deployment_objectives(deployment: Deployment) -> dict[str, Slo]:
    """Each class's merged `slo` (profile, then deploy overrides, then --set)."""
    return {name: profile.slo for name, profile in deployment.profiles.items()}


def _split(item: str) -> tuple[str, str, str, bool]:
    """`[CLASS.]KEY=MS` or genai-perf's `[CLASS.]NAME:MS` -> (class, key, value, has class)."""
    if "=" in item:
        target, _, value = item.partition("=")
        sla, dot, key = target.rpartition(".")
        return sla, key, value, bool(dot)
    target, sep, value = item.partition(":")
    sla, dot, name = target.rpartition(".")
    return sla, GENAI_PERF_KEYS.get(name, name) if sep else "", value, bool(dot)


def parse_goodput(specs: Iterable[str], classes: Iterable[str]) -> dict[str | None, dict]:
    """`[CLASS.]KEY=MS` items (comma-separated or repeated), or genai-perf's `NAME:MS`
    (time_to_first_token, inter_token_latency, request_latency) -> overrides; None = every class.
    """
    known = list(classes)
    overrides: dict[str | None, dict] = {}
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            sla, key, value, has_class = _split(item)
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if key not in GOODPUT_KEYS or not (number > 0 and math.isfinite(number)):
                names = ", ".join((*GOODPUT_KEYS, *GENAI_PERF_KEYS))
                raise ConfigError(
                    "--goodput",
                    item,
                    f"expected [CLASS.]KEY=MS or KEY:MS with KEY one of {names} and MS > 0",
                    _EXAMPLE,
                )
            if has_class and sla not in known:
                raise ConfigError(
                    "--goodput",
                    item,
                    f"unknown SLA class {sla!r}",
                    f"available: {', '.join(known)}",
                )
            overrides.setdefault(sla if has_class else None, {})[key] = number
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
