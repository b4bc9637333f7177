"""Measurements the plan reads: one class's runs from a bench JSON (`tritonsla bench --out`,
format tritonsla-bench/1) and a capacity from `bench --capacity` (format tritonsla-capacity/1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonsla.bench.metrics import THRESHOLDS
from tritonsla.bench.report.capacity_report import FORMAT as CAPACITY_FORMAT
from tritonsla.bench.report.json_report import FORMAT as BENCH_FORMAT
from tritonsla.errors import ConfigError, ConfigErrors
from tritonsla.profiles.loading import display_path


@dataclass(frozen=True)
class ClassRun:
    """One bench run as one class saw it."""

    load: str
    kind: str
    """`concurrent` (closed loop) or an arrival process (`poisson`, `constant`, `gamma`)."""
    value: float
    """Concurrency, or offered requests/s."""
    served_rps: float
    input_tokens: float
    output_tokens: float
    count: int
    stats: dict[str, dict[str, float]]
    """Metric -> {mean, p50, p90, p95, p99}."""

    @property
    def streamed(self) -> bool:
        """Whether answers were streamed (the run measured inter-token latency)."""
        return bool(self.stats.get("itl_ms", {}).get("count"))

    def stat(self, metric: str, key: str) -> float | None:
        return self.stats.get(metric, {}).get(key)


def parse_load(name: str) -> tuple[str, float]:
    """`concurrent@4` -> (concurrent, 4); `poisson@2.5rps` -> (poisson, 2.5)."""
    kind, _, value = name.partition("@")
    number = value.split(",")[0].removesuffix("rps")
    try:
        return kind, float(number)
    except ValueError:
        raise ValueError(f"load {name!r} is not <kind>@<number>[rps]") from None


def _read_json(path: Path) -> dict[str, Any]:
    shown = display_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigErrors(
            [ConfigError(shown, "(file)", "file not found", "check the path")]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigErrors(
            [ConfigError(shown, "(file)", f"cannot be read ({error})", "pass a JSON file")]
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigErrors(
            [ConfigError(shown, f"line {error.lineno}", "invalid JSON", "pass the JSON file")]
        ) from error
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError(shown, "(top level)", "not a JSON object", "check it")])
    return data


def read_class_runs(path: Path, sla: str) -> list[ClassRun]:
    """Every run of `path` (a bench JSON) in which class `sla` completed requests."""
    shown = display_path(path)
    data = _read_json(path)
    if data.get("format") != BENCH_FORMAT:
        raise ConfigErrors(
            [
                ConfigError(
                    shown,
                    "format",
                    f"is {data.get('format')!r}, not a bench JSON ({BENCH_FORMAT})",
                    "pass the summary.json that `tritonsla bench --out DIR` writes",
                )
            ]
        )
    try:
        return _class_runs(data, sla, shown)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ConfigErrors(
            [
                ConfigError(
                    shown,
                    "runs",
                    f"is not shaped as `tritonsla bench` writes it ({error!r})",
                    "pass the summary.json that `tritonsla bench --out DIR` writes, unedited",
                )
            ]
        ) from None


def _class_runs(data: dict[str, Any], sla: str, shown: str) -> list[ClassRun]:
    runs = []
    for index, run in enumerate(data.get("runs", [])):
        summary = (run or {}).get("summary") or {}
        found = summary.get("classes", {}).get(sla)
        if not found or not found.get("counts", {}).get("ok"):
            continue
        try:
            kind, value = parse_load(summary.get("strategy", ""))
        except ValueError as error:
            raise ConfigErrors(
                [ConfigError(shown, f"runs[{index}].summary.strategy", str(error), "re-run")]
            ) from error
        runs.append(
            ClassRun(
                load=summary["strategy"],
                kind=kind,
                value=value,
                served_rps=float(found.get("requests_per_s") or 0.0),
                input_tokens=float(found.get("input_tokens", {}).get("mean") or 0.0),
                output_tokens=float(found.get("output_tokens", {}).get("mean") or 0.0),
                count=int(found["counts"]["ok"]),
                stats={m: dict(found[m]) for m in THRESHOLDS if found.get(m)},
            )
        )
    if not runs:
        raise ConfigErrors(
            [
                ConfigError(
                    shown,
                    "runs",
                    f"no run completed a request of class `{sla}`",
                    f"bench the class, e.g. --mix {sla}=1",
                )
            ]
        )
    return runs


def read_capacity(path: Path) -> float:
    """The SLO capacity (req/s) a `bench --capacity` search found."""
    shown = display_path(path)
    data = _read_json(path)
    if data.get("format") != CAPACITY_FORMAT or "capacity_rps" not in data:
        raise ConfigErrors(
            [
                ConfigError(
                    shown,
                    "format",
                    f"is {data.get('format')!r}, not a capacity JSON ({CAPACITY_FORMAT})",
                    "pass the capacity.json that `tritonsla bench --capacity --out DIR` writes",
                )
            ]
        )
    value = data["capacity_rps"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigErrors(
            [ConfigError(shown, "capacity_rps", f"is {value!r}, not a number", "re-run the search")]
        )
    return float(value)
