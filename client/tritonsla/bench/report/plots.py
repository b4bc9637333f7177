"""PNG plots: TTFT CDF per class, latency vs throughput of a sweep.

Figures are made with matplotlib's object API (`Figure`, no pyplot): no global state, no GUI
backend, safe in any thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from tritonsla.bench.metrics import MS, grouped, measured
from tritonsla.bench.records import RunResult
from tritonsla.profiles.schema import Slo

DPI = 120


def plot_ttft_cdf(run: RunResult, objectives: Mapping[str, Slo], path: Path) -> Path:
    """Fraction of each class's measured requests answered (first token) within x ms.

    Failed requests never arrive, so a class's curve tops out below 1 by their share. A dotted
    line marks the class's TTFT threshold, when it has one.
    """
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    by_class = grouped(measured(run.records), lambda r: r.sla or "(none)")
    curves = {
        name: sorted(t * MS for r in records if r.ok and (t := r.ttft) is not None)
        for name, records in by_class.items()
    }
    right = max((times[-1] for times in curves.values() if times), default=1.0) * 1.05
    for index, (name, records) in enumerate(by_class.items()):
        color = f"C{index}"
        times = curves[name]
        failed = sum(not r.ok for r in records)
        label = f"{name} (n={len(records)}" + (f", {failed} failed)" if failed else ")")
        shares = [(i + 1) / len(records) for i in range(len(times))]
        ax.step(
            [0.0, *times, right],
            [0.0, *shares, shares[-1] if shares else 0.0],
            where="post",
            color=color,
            label=label,
        )
        slo = objectives.get(name)
        if slo is not None and slo.ttft_ms is not None:
            ax.axvline(slo.ttft_ms, color=color, linestyle=":", linewidth=1)
    ax.set_xlabel("time to first token (ms, from scheduled send)")
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"TTFT CDF per SLA class — {run.name}")
    return save_figure(fig, path)


def plot_latency_throughput(runs: Sequence[RunResult], path: Path) -> Path:
    """TTFT and e2e latency (p50 solid, p99 dashed) per class against the run's requests/s."""
    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    names: list[str] = []
    for run in runs:
        names += [name for name in run.summary.classes if name not in names]
    for axis, metric, title in ((axes[0], "ttft_ms", "TTFT"), (axes[1], "e2e_ms", "end to end")):
        for index, name in enumerate(["all", *names]):
            points = []
            for run in runs:
                group = run.summary.overall if name == "all" else run.summary.classes.get(name)
                dist = None if group is None else getattr(group, metric)
                rate = run.summary.overall.requests_per_s
                if dist is not None and rate is not None:
                    points.append((rate, dist.p50, dist.p99))
            if not points:
                continue
            points.sort()
            xs = [p[0] for p in points]
            color = "black" if name == "all" else f"C{index - 1}"
            axis.plot(xs, [p[1] for p in points], "o-", color=color, label=f"{name} p50")
            axis.plot(xs, [p[2] for p in points], "s--", color=color, label=f"{name} p99")
        axis.set_xlabel("throughput (completed requests/s, whole run)")
        axis.set_ylabel(f"{title} latency (ms)")
        axis.set_title(f"{title} latency vs throughput")
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize="small", loc="upper left")
    fig.suptitle(" → ".join(run.name for run in runs), fontsize="small")
    return save_figure(fig, path)


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path
