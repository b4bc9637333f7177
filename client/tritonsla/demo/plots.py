"""Figures of the demo: goodput and tail latency against offered load, and TTFT CDFs, with the
SLA endpoints and the single endpoint on the same axes (matplotlib's object API, no pyplot)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tritonsla.bench.report.plots import save_figure
from tritonsla.bench.result import RunResult
from tritonsla.demo.compare import LoadComparison
from tritonsla.profiles.schema import Slo

SIDES = (("routed", "SLA endpoints", "tab:blue"), ("single", "one endpoint", "tab:orange"))


def primary_metric(slo: Slo | None) -> str:
    """The latency a class is judged on first: TTFT when it has that objective, else e2e."""
    return "ttft" if slo is not None and slo.ttft_ms is not None else "e2e"


def plot_goodput(comparisons: Sequence[LoadComparison], path: Path) -> Path:
    """Goodput per class and in total against offered load."""
    classes = [row.sla for row in comparisons[0].rows]
    rates = [c.offered_rps or i for i, c in enumerate(comparisons)]
    fig = Figure(figsize=(4 * (len(classes) + 1), 3.6))
    axes = fig.subplots(1, len(classes) + 1)
    for axis, name in zip(axes, [*classes, "all classes"], strict=True):
        for side, label, color in SIDES:
            if name == "all classes":
                values = [getattr(c, f"{side}_goodput") for c in comparisons]
            else:
                values = [
                    getattr(next(r for r in c.rows if r.sla == name), side).goodput_rps
                    for c in comparisons
                ]
            axis.plot(rates, values, marker="o", color=color, label=label)
        axis.set_title(name)
        axis.set_xlabel("offered load (requests/s)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("goodput (requests/s meeting the SLO)")
    axes[-1].legend()
    return save_figure(fig, path)


def plot_tail_latency(
    comparisons: Sequence[LoadComparison], objectives: Mapping[str, Slo], path: Path
) -> Path:
    """Each class's judged latency (p95) against offered load, with its SLO threshold."""
    classes = [row.sla for row in comparisons[0].rows]
    rates = [c.offered_rps or i for i, c in enumerate(comparisons)]
    fig = Figure(figsize=(4 * len(classes), 3.6))
    axes = fig.subplots(1, len(classes))
    for axis, name in zip(np.atleast_1d(axes), classes, strict=True):
        slo = objectives.get(name)
        metric = primary_metric(slo)
        for side, label, color in SIDES:
            values = []
            for c in comparisons:
                row = getattr(next(r for r in c.rows if r.sla == name), side)
                value = row.ttft_p95_ms if metric == "ttft" else row.e2e_p95_ms
                values.append(np.nan if value is None else value)
            axis.plot(rates, values, marker="o", color=color, label=label)
        threshold = None if slo is None else getattr(slo, f"{metric}_ms")
        if threshold is not None:
            axis.axhline(threshold, color="tab:red", linestyle="--", label=f"SLO {threshold:g} ms")
        axis.set_yscale("log")
        axis.set_title(f"{name}: {metric.upper()} p95")
        axis.set_xlabel("offered load (requests/s)")
        axis.set_ylabel("ms")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize="small")
    return save_figure(fig, path)


def plot_ttft_cdfs(
    routed: RunResult, single: RunResult, objectives: Mapping[str, Slo], path: Path
) -> Path:
    """TTFT CDF per class at one load, both deployments on the same axes."""
    classes = list(routed.summary.classes)
    fig = Figure(figsize=(4 * len(classes), 3.6))
    axes = fig.subplots(1, len(classes))
    for axis, name in zip(np.atleast_1d(axes), classes, strict=True):
        for run, (_, label, color) in zip((routed, single), SIDES, strict=True):
            values = np.sort(
                [
                    r.ttft * 1000
                    for r in run.records
                    if r.sla == name and r.ok and not r.warmup and r.ttft is not None
                ]
            )
            if values.size:
                axis.step(
                    values,
                    np.arange(1, values.size + 1) / values.size,
                    where="post",
                    color=color,
                    label=label,
                )
        slo = objectives.get(name)
        if slo is not None and slo.ttft_ms is not None:
            axis.axvline(slo.ttft_ms, color="tab:red", linestyle="--", label="TTFT SLO")
        axis.set_xscale("log")
        axis.set_title(f"{name} at {routed.name}")
        axis.set_xlabel("time to first token (ms)")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize="small")
    np.atleast_1d(axes)[0].set_ylabel("share of requests")
    return save_figure(fig, path)
