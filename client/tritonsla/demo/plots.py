"""Figures of the demo: each topology's probes against offered load, capacities marked
(matplotlib's object API, no pyplot)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tritonsla.bench.capacity import Probe
from tritonsla.bench.report.plots import save_figure
from tritonsla.demo.compare import TopologyResult
from tritonsla.profiles.schema import Slo

COLORS = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:red")


def primary_metric(slo: Slo | None) -> str:
    """The latency a class is judged on first: TTFT when it has that objective, else e2e."""
    return "ttft_ms" if slo is not None and slo.ttft_ms is not None else "e2e_ms"


def _probes(result: TopologyResult) -> list[Probe]:
    return sorted(result.capacity.probes, key=lambda p: p.rate)


def _series(axis: Axes, result: TopologyResult, color: str, values: Sequence[float]) -> None:
    """One topology's probes: a line, filled markers where every SLO was met, hollow elsewhere,
    and its SLO capacity as a dashed vertical line (the saturation point)."""
    probes = _probes(result)
    rates = [p.offered_rps or p.rate for p in probes]
    axis.plot(rates, values, color=color, label=result.name)
    met = [p.slo_met for p in probes]
    for rate, value, ok in zip(rates, values, met, strict=True):
        axis.plot(rate, value, "o", color=color, markerfacecolor=color if ok else "white")
    if result.slo_capacity_rps > 0:
        axis.axvline(result.slo_capacity_rps, color=color, linestyle="--", alpha=0.7)


def plot_capacity(results: Sequence[TopologyResult], path: Path) -> Path:
    """Goodput and served rate against offered load, per topology."""
    fig = Figure(figsize=(11, 4))
    goodput_axis, served_axis = fig.subplots(1, 2)
    for result, color in zip(results, COLORS, strict=False):
        probes = _probes(result)
        _series(goodput_axis, result, color, [p.goodput_rps or 0.0 for p in probes])
        _series(served_axis, result, color, [p.served_rps or 0.0 for p in probes])
    top = max((p.offered_rps or p.rate for r in results for p in r.capacity.probes), default=1.0)
    served_axis.plot([0, top], [0, top], color="grey", linestyle=":", label="served = offered")
    goodput_axis.set_ylabel("goodput (requests/s meeting their SLO)")
    served_axis.set_ylabel("served (requests/s)")
    for axis in (goodput_axis, served_axis):
        axis.set_xlabel("offered load (Poisson requests/s)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    fig.suptitle("Filled: every SLO met and sustained; dashed: SLO capacity (saturation point)")
    return save_figure(fig, path)


def plot_class_latency(
    results: Sequence[TopologyResult], objectives: Mapping[str, Slo], path: Path
) -> Path:
    """Each class's judged latency (p95) against offered load, per topology, with its SLO."""
    classes = list(objectives)
    fig = Figure(figsize=(4.2 * len(classes), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(classes)))
    for axis, sla in zip(axes, classes, strict=True):
        slo = objectives.get(sla)
        metric = primary_metric(slo)
        for result, color in zip(results, COLORS, strict=False):
            values = [
                np.nan if (v := p.p95_ms.get(sla, {}).get(metric)) is None else v
                for p in _probes(result)
            ]
            _series(axis, result, color, values)
        threshold = None if slo is None else getattr(slo, metric)
        if threshold is not None:
            axis.axhline(threshold, color="tab:red", linestyle="-.", label=f"SLO {threshold:g} ms")
        axis.set_yscale("log")
        axis.set_title(f"{sla}: {metric.removesuffix('_ms').upper()} p95")
        axis.set_xlabel("offered load (requests/s)")
        axis.set_ylabel("ms")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize="small")
    return save_figure(fig, path)
