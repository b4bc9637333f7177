"""The three topologies side by side, and what their numbers say (pure).

Each topology ran a capacity search on the same workload at a stated, equal compute budget. The
comparison checks that the budgets are equal, ranks the topologies by SLO capacity (the highest
Poisson rate at which every class met its SLO while the server kept up), and says in words who
wins, by how much, and what limits each topology just above its capacity: the class and the
criterion that failed first. A loss is reported as plainly as a win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritonsla.bench.capacity import CapacityResult, Probe
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.topology import ComputeBudget, compute_budget

TIE_MARGIN = 0.05
"""Capacities within 5% (the search's own tolerance) are called a tie."""


@dataclass(frozen=True)
class Parity:
    """The compute one topology runs on (summed over its engine instances)."""

    name: str
    layout: str
    budget: ComputeBudget

    @classmethod
    def of(cls, name: str, dep: Deployment) -> Parity:
        return cls(name, dep.deploy.layout, compute_budget(dep))

    def key(self) -> tuple[int | None, int, int]:
        """What must be equal between topologies: cores, in-flight slots, KV tokens."""
        return (self.budget.cores, self.budget.inflight_slots, self.budget.kv_tokens)


def parity_problems(rows: Sequence[Parity]) -> list[str]:
    """Sentences naming every budget that differs from the first topology's; empty when equal."""
    if not rows:
        return []
    first = rows[0]
    problems = []
    for row in rows[1:]:
        for field, mine, theirs in zip(
            ("cores", "in-flight slots", "KV tokens"), row.key(), first.key(), strict=True
        ):
            if mine != theirs:
                problems.append(f"{row.name} has {mine} {field}, {first.name} has {theirs}")
    return problems


@dataclass(frozen=True)
class TopologyResult:
    """One topology: its compute and its capacity search."""

    name: str
    title: str
    parity: Parity
    capacity: CapacityResult

    @property
    def slo_capacity_rps(self) -> float:
        """The load shown to be served within every SLO: what the capacity probe offered.

        Every topology is sent the same draw of arrivals at a given Poisson rate, so ranking by
        this or by the rate gives the same order; this one is the honest absolute number."""
        return self.capacity.offered_capacity_rps

    @property
    def capacity_rate(self) -> float:
        """The Poisson rate the search set (the rate probes are named by)."""
        return self.capacity.capacity_rps


def _limit(result: TopologyResult) -> str:
    """What failed first above the capacity, in words."""
    probe: Probe | None = result.capacity.limiting
    if probe is None:
        return (
            f"it met every SLO up to the search's ceiling of {result.capacity.settings.max_rps:g}"
        )
    why = "; ".join(probe.reasons) or "it missed an SLO"
    offered = probe.offered_rps if probe.offered_rps is not None else probe.rate
    return f"at {offered:.2f} req/s offered: {why}"


def conclusion(results: Sequence[TopologyResult]) -> list[str]:
    """Plain sentences computed from the capacities: the winner, the ratios, each one's limit."""
    if not results:
        return []
    ranked = sorted(results, key=lambda r: r.slo_capacity_rps, reverse=True)
    best = ranked[0]
    lines = []
    top = best.slo_capacity_rps
    if top == 0:
        lines.append("No topology met every SLO at any rate probed.")
    else:
        ties = [r.name for r in ranked[1:] if r.slo_capacity_rps >= top * (1 - TIE_MARGIN)]
        if ties:
            lines.append(
                f"{best.name} and {', '.join(ties)} tie at the top: SLO capacities within "
                f"{TIE_MARGIN:.0%} of {top:.2f} req/s, the search's own resolution."
            )
        else:
            runner_up = ranked[1] if len(ranked) > 1 else None
            against = (
                ""
                if runner_up is None
                else f", {_ratio(top, runner_up.slo_capacity_rps)} the {runner_up.name} "
                f"topology's {runner_up.slo_capacity_rps:.2f}"
            )
            lines.append(
                f"{best.name} ({best.title}) meets every class's SLO at the highest load: "
                f"{top:.2f} req/s{against}."
            )
            if runner_up is not None and runner_up.capacity.highest_met_rps >= best.capacity_rate:
                lines.append(
                    f"That lead is within this run's noise: {runner_up.name} also passed a probe "
                    f"at {runner_up.capacity.highest_met_rps:g} req/s, not below {best.name}'s "
                    f"capacity. Repeat the demo, or lengthen --probe-seconds, before relying on "
                    "the order."
                )
    for result in ranked:
        capacity = result.slo_capacity_rps
        share = "" if top == 0 or result is best else f" ({capacity / top:.0%} of {best.name})"
        lines.append(
            f"{result.name}: SLO capacity {capacity:.2f} req/s{share}; {_limit(result)}"
            f"{_noisy_edge(result)}."
        )
    return lines


def _noisy_edge(result: TopologyResult) -> str:
    """Said when a probe passed above the capacity: the run's own spread at its edge."""
    above = result.capacity.highest_met_rps
    if above <= result.capacity_rate:
        return ""
    return (
        f"; a probe at {above:g} req/s met every SLO too, but another at or below it did not "
        "(every probe at a rate must pass)"
    )


def _ratio(mine: float, theirs: float) -> str:
    return "where nothing else met them" if theirs == 0 else f"{mine / theirs:.2f}x"


def topologies_json(results: Sequence[TopologyResult], probes: Sequence[list[dict]]) -> list[dict]:
    """The `topologies` list of comparison.json (probes already in JSON form, one list each)."""
    return [
        {
            "name": r.name,
            "title": r.title,
            "layout": r.parity.layout,
            "cores": r.parity.budget.cores,
            "engine_instances": r.parity.budget.engine_instances,
            "blas_threads_per_engine": r.parity.budget.blas_threads_per_engine,
            "inflight_slots": r.parity.budget.inflight_slots,
            "kv_tokens": r.parity.budget.kv_tokens,
            "slo_capacity_rps": r.slo_capacity_rps,
            "poisson_rate_at_capacity_rps": r.capacity.capacity_rps,
            "highest_met_rps": r.capacity.highest_met_rps,
            "capacity_reason": r.capacity.reason,
            "probes": list(p),
        }
        for r, p in zip(results, probes, strict=True)
    ]
