"""The summary of one run: overall, per class and per endpoint metrics, verdicts, self-check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tritonsla.bench.metrics import (
    GroupMetrics,
    ScheduleCheck,
    check_schedule,
    group_metrics,
    grouped,
    measured,
    objective_lookup,
    run_window,
)
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.schedule import LoadStrategy
from tritonsla.bench.verdict import Verdict, class_verdict
from tritonsla.profiles.schema import Slo

ALL = "all"


@dataclass(frozen=True)
class RunSummary:
    """Everything a report shows about one run at one load."""

    strategy: str
    overall: GroupMetrics
    classes: dict[str, GroupMetrics]
    endpoints: dict[str, GroupMetrics]
    verdicts: dict[str, Verdict]
    schedule: ScheduleCheck

    @property
    def passed(self) -> bool | None:
        """True when every class with an objective met it; None when none has one."""
        judged = [v.passed for v in self.verdicts.values() if v.passed is not None]
        return all(judged) if judged else None


def summarize(
    strategy: LoadStrategy, records: Sequence[RequestRecord], objectives: Mapping[str, Slo]
) -> RunSummary:
    """Summarize the records of one run; `objectives` maps SLA class to its objective."""
    counted = measured(records)
    window = run_window(counted)
    objective_of = objective_lookup(objectives)
    found = grouped(counted, lambda r: r.sla)
    order = [name for name in objectives if name in found] + sorted(set(found) - set(objectives))
    by_class = {name: found[name] for name in order}  # the deployment's order of classes
    classes = {
        name: group_metrics(name, group, window, objective_of) for name, group in by_class.items()
    }
    endpoints = {
        name: group_metrics(name, group, window, objective_of)
        for name, group in grouped(counted, lambda r: r.endpoint).items()
    }
    verdicts = {
        name: class_verdict(name, objectives.get(name), by_class[name], classes[name])
        for name in classes
    }
    return RunSummary(
        strategy=strategy.name,
        overall=group_metrics(ALL, counted, window, objective_of),
        classes=classes,
        endpoints=endpoints,
        verdicts=verdicts,
        schedule=check_schedule(counted, open_loop=strategy.open_loop),
    )
