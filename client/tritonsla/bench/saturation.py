"""Is one probe's run past saturation? Served rate and latency drift, then the probe's verdict.

All over the measured (non-warm-up) requests of the run, times from its first scheduled send:

- offered rate = (N - 1) / (last scheduled send - first scheduled send): the rate of the
  schedule actually drawn. N / offered is then the span the N sends stand for.
- served rate = ok answers / serving span, where serving span = N / offered + excess drain,
  and excess drain = max(0, last ok answer - last scheduled send - the longest end-to-end
  latency among the first third's ok answers). A server that keeps up answers the last request
  about as fast as it answered the first ones, so the excess is ~0 and served ~= offered x
  success share; one that falls behind carries a backlog past the last send, and the time it
  takes to clear it is the excess. Failed and cancelled requests are not served. The probe's
  goodput is its good requests (meeting every per-request threshold of their class) over the
  same span, so goodput <= served.
- sustained: served >= `served_fraction` (95%) x offered.
- drift, per class and judged latency (the thresholds its SLO sets among TTFT, ITL and e2e, or
  e2e when it sets none): the p95 over the requests scheduled in the last third of the run's
  span must not exceed first third's p95 x `drift_ratio` (1.5) + a floor: `drift_floor_ms`
  (50 ms) or `drift_slo_fraction` (50%) of the class's threshold for that latency, the larger.
  Failed requests enter as +inf, as in SLO verdicts. Below 3 requests in either third the class
  is not judged. Past saturation the queue, and so the latency, grows for as long as the run
  lasts, far past 1.5x within one probe; a steady load's third-to-third p95 moves by tens of
  percent on a shared 2-core machine. The floor keeps a flat low latency (a 20 ms TTFT that
  jitters to 45 ms) from reading as saturation. Its SLO-relative part is there because a third
  of a probe holds a handful of requests per class (its p95 is their max): with 10% of the
  objective, one slow realtime answer (115 -> 326 ms against a 500 ms TTFT objective) failed a
  load that other runs sustained 40% above. Half the objective still fails a trend that heads
  for the objective (from a first third below a third of it), and a run past saturation also
  shows as a served rate below offered, which the backlog drain lowers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tritonsla.bench.capacity import CapacitySettings, Drift, Probe
from tritonsla.bench.metrics import THRESHOLDS, measured, percentile, record_value_ms
from tritonsla.bench.records import RequestRecord, RunResult
from tritonsla.bench.verdict import Check
from tritonsla.profiles.schema import Slo

DRIFT_MIN_REQUESTS = 3
FLOOR_METRIC = "output_tokens_per_s"


def offered_rate(records: Sequence[RequestRecord]) -> float | None:
    """Requests/s of the measured schedule; None below two requests or a zero span."""
    sends = [r.scheduled for r in records]
    if len(sends) < 2 or max(sends) == min(sends):
        return None
    return (len(sends) - 1) / (max(sends) - min(sends))


def thirds(
    records: Sequence[RequestRecord],
) -> tuple[list[RequestRecord], list[RequestRecord]]:
    """The records scheduled in the first and in the last third of the span of sends."""
    if not records:
        return [], []
    start = min(r.scheduled for r in records)
    third = (max(r.scheduled for r in records) - start) / 3
    first = [r for r in records if r.scheduled < start + third]
    last = [r for r in records if r.scheduled >= start + 2 * third]
    return first, last


def serving_span(records: Sequence[RequestRecord], offered: float | None) -> float | None:
    """Seconds the sends stand for plus the excess drain (see the module docstring)."""
    if offered is None:
        return None
    first, _ = thirds(records)
    reference = max((r.e2e for r in first if r.ok and r.e2e is not None), default=0.0)
    last_send = max(r.scheduled for r in records)
    last_end = max((r.end for r in records if r.ok and r.end is not None), default=last_send)
    return len(records) / offered + max(0.0, last_end - last_send - reference)


def served_rate(records: Sequence[RequestRecord], offered: float | None) -> float | None:
    """Ok answers per second of the serving span."""
    span = serving_span(records, offered)
    return None if span is None else sum(r.ok for r in records) / span


def judged_metrics(slo: Slo | None) -> tuple[str, ...]:
    """The latencies a class's drift is judged on: its SLO's thresholds, else e2e."""
    keys = tuple(key for key in THRESHOLDS if slo is not None and getattr(slo, key) is not None)
    return keys or ("e2e_ms",)


def _p95(records: Sequence[RequestRecord], key: str) -> float | None:
    values = [
        float("inf") if not r.ok else value
        for r in records
        if not r.ok or (value := record_value_ms(r, key)) is not None
    ]
    return percentile(values, 95) if len(values) >= DRIFT_MIN_REQUESTS else None


def drift_floor_ms(slo: Slo | None, key: str, floor_ms: float, slo_fraction: float) -> float:
    """The absolute part of a drift limit: `floor_ms`, or `slo_fraction` of the threshold."""
    threshold = None if slo is None else getattr(slo, key, None)
    return max(floor_ms, slo_fraction * threshold) if threshold is not None else floor_ms


def drift(
    records: Sequence[RequestRecord],
    objectives: Mapping[str, Slo],
    ratio: float,
    floor_ms: float,
    slo_fraction: float = 0.0,
) -> tuple[Drift, ...]:
    """Drift of every class's judged latencies, in the order classes first appear."""
    first, last = thirds(records)
    classes = list(dict.fromkeys(r.sla for r in records if r.sla is not None))
    found = []
    for sla in classes:
        early = [r for r in first if r.sla == sla]
        late = [r for r in last if r.sla == sla]
        for key in judged_metrics(objectives.get(sla)):
            before, after = _p95(early, key), _p95(late, key)
            if before is None or after is None:
                found.append(Drift(sla, key, before, after, None, None))
                continue
            slo = objectives.get(sla)
            limit = before * ratio + drift_floor_ms(slo, key, floor_ms, slo_fraction)
            found.append(Drift(sla, key, before, after, limit, after > limit))
    return tuple(found)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return "∞" if value == float("inf") else f"{value:,.0f} ms"


def check_sentence(sla: str, check: Check) -> str:
    """A failed objective term in words."""
    if check.metric == FLOOR_METRIC:
        measured_text = "nothing" if check.measured is None else f"{check.measured:,.1f}"
        return (
            f"{sla}: output {measured_text} tokens/s is below its floor of "
            f"{check.threshold:,.1f} tokens/s"
        )
    note = f" ({check.note})" if check.note else ""
    return (
        f"{sla}: {check.metric} p{check.percentile:g} {_ms(check.measured)} is above "
        f"{_ms(check.threshold)}{note}"
    )


def drift_sentence(item: Drift) -> str:
    """A drifted latency in words."""
    return (
        f"{item.sla}: {item.metric} p95 rose from {_ms(item.first_p95_ms)} in the first third "
        f"to {_ms(item.last_p95_ms)} in the last (limit {_ms(item.limit_ms)}): latency still "
        "rising"
    )


def stopped_reasons(stopped: str, records: Sequence[RequestRecord]) -> list[str]:
    """Why a stopped probe failed: the stop, and not the figures its cancelled requests spoil.

    The requests still in flight when a probe stops are cancelled and count as failed, so its
    served rate, drift and other classes' verdicts say more about the stop than about the load.
    """
    cancelled = sum(r.status == "incomplete" for r in records)
    if not cancelled:
        return [stopped]
    return [
        stopped,
        f"{cancelled} requests still in flight were cancelled (failed in this probe's figures)",
    ]


def judge(
    rate: float,
    run: RunResult,
    objectives: Mapping[str, Slo],
    settings: CapacitySettings,
    *,
    duration_s: float,
    stopped: str | None = None,
) -> Probe:
    """The probe of `run` at `rate`; `stopped` says why it was stopped early, if it was."""
    records = measured(run.records)
    summary = run.summary
    offered = offered_rate(records)
    span = serving_span(records, offered)
    served = None if span is None else sum(r.ok for r in records) / span
    good = summary.overall.good
    sustained = (
        offered is not None and served is not None and served >= settings.served_fraction * offered
    )
    drifts = drift(
        records,
        objectives,
        settings.drift_ratio,
        settings.drift_floor_ms,
        settings.drift_slo_fraction,
    )
    failed = [
        (sla, check)
        for sla, verdict in summary.verdicts.items()
        for check in verdict.checks
        if not check.passed
    ]
    if stopped is not None:
        reasons = stopped_reasons(stopped, records)
    elif offered is None:
        reasons = ["too few measured requests were sent to judge the rate"]
    else:
        reasons = (
            []
            if sustained
            else [
                f"not sustained: served {served:.2f} req/s is {served / offered:.1%} of the "
                f"{offered:.2f} req/s offered (needs {settings.served_fraction:.0%})"
            ]
        )
        reasons += [drift_sentence(d) for d in drifts if d.drifted]
        reasons += [check_sentence(sla, check) for sla, check in failed]
    steady = sustained and stopped is None and not any(d.drifted for d in drifts)
    return Probe(
        rate=rate,
        slo_met=steady and not failed,
        below_floor=steady and bool(failed) and all(c.metric == FLOOR_METRIC for _, c in failed),
        sustained=sustained,
        stopped_early=stopped is not None,
        offered_rps=offered,
        served_rps=served,
        goodput_rps=None if span is None or good is None else good / span,
        duration_s=duration_s,
        verdicts={sla: verdict.passed for sla, verdict in summary.verdicts.items()},
        p95_ms={
            sla: {
                key: None if (dist := getattr(metrics, key)) is None else dist.p95
                for key in THRESHOLDS
            }
            for sla, metrics in summary.classes.items()
        },
        drift=drifts,
        reasons=tuple(reasons),
        run=run,
    )
