"""Side-by-side figures of the SLA endpoints and the single endpoint, and what they say (pure).

Runs of the two reports are matched by load name (`poisson@16rps`); every class is judged by its
own objective in both, so goodput is comparable. The conclusion states what the numbers show,
including when the single endpoint does as well or better: that is a finding, not a failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tritonsla.bench.metrics import GroupMetrics
from tritonsla.bench.result import BenchReport, RunResult


@dataclass(frozen=True)
class Side:
    """One class at one load in one deployment."""

    passed: bool | None
    goodput_rps: float
    ok: int
    total: int
    ttft_p95_ms: float | None
    e2e_p95_ms: float | None
    output_tokens_per_s: float


@dataclass(frozen=True)
class ClassRow:
    """One class at one load: the SLA endpoint next to the single endpoint."""

    sla: str
    routed: Side
    single: Side


@dataclass(frozen=True)
class LoadComparison:
    """Every class at one offered load."""

    load: str
    offered_rps: float | None
    rows: tuple[ClassRow, ...]

    @property
    def routed_goodput(self) -> float:
        return sum(row.routed.goodput_rps for row in self.rows)

    @property
    def single_goodput(self) -> float:
        return sum(row.single.goodput_rps for row in self.rows)


def _side(run: RunResult, sla: str) -> Side:
    metrics: GroupMetrics | None = run.summary.classes.get(sla)
    verdict = run.summary.verdicts.get(sla)
    if metrics is None:
        return Side(None, 0.0, 0, 0, None, None, 0.0)
    return Side(
        passed=None if verdict is None else verdict.passed,
        goodput_rps=metrics.goodput_rps or 0.0,
        ok=metrics.counts.ok,
        total=metrics.counts.total,
        ttft_p95_ms=None if metrics.ttft_ms is None else metrics.ttft_ms.p95,
        e2e_p95_ms=None if metrics.e2e_ms is None else metrics.e2e_ms.p95,
        output_tokens_per_s=metrics.output_tokens_per_s or 0.0,
    )


def offered_rate(load: str) -> float | None:
    """Requests per second named by a rate strategy (`poisson@16rps` -> 16.0), else None."""
    match = re.match(r"^[a-z]+@([0-9.]+)rps\b", load)
    return float(match.group(1)) if match else None


def compare(routed: BenchReport, single: BenchReport) -> list[LoadComparison]:
    """One LoadComparison per load both reports ran, in the routed report's order."""
    singles = {run.name: run for run in single.runs}
    comparisons = []
    for run in routed.runs:
        other = singles.get(run.name)
        if other is None:
            continue
        classes = list(run.summary.classes) + [
            c for c in other.summary.classes if c not in run.summary.classes
        ]
        rows = tuple(ClassRow(c, _side(run, c), _side(other, c)) for c in classes)
        comparisons.append(LoadComparison(run.name, offered_rate(run.name), rows))
    return comparisons


def _passing(rows: Sequence[ClassRow], side: str) -> list[str]:
    return [row.sla for row in rows if getattr(row, side).passed]


def conclusion(comparisons: Sequence[LoadComparison]) -> list[str]:
    """Plain sentences: per load, who had more goodput and which classes met their SLO."""
    lines = []
    for c in comparisons:
        routed, single = c.routed_goodput, c.single_goodput
        ok_routed = _passing(c.rows, "routed")
        ok_single = _passing(c.rows, "single")
        met = (
            f"SLOs met: SLA endpoints {', '.join(ok_routed) or 'none'}; "
            f"single endpoint {', '.join(ok_single) or 'none'}."
        )
        if routed > single * 1.05:
            ratio = f"{routed / single:.1f}x" if single > 0 else "all of it"
            lines.append(
                f"{c.load}: the SLA endpoints delivered {routed:.2f} good requests/s against "
                f"{single:.2f} for one endpoint ({ratio}). {met}"
            )
        elif single > routed * 1.05:
            lines.append(
                f"{c.load}: the single endpoint delivered more goodput ({single:.2f} against "
                f"{routed:.2f} requests/s): at this load one shared queue still had room for "
                f"every class, while separate endpoints split the machine between three "
                f"engines. {met}"
            )
        else:
            lines.append(
                f"{c.load}: no real difference in goodput ({routed:.2f} against {single:.2f} "
                f"requests/s): neither setup was the bottleneck. {met}"
            )
    return lines
