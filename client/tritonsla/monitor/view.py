"""Per-class view of a deployment over a window between two scrapes (pure).

Sources, by metric family:
- the gateway (`tritonsla_gateway_*`, label `sla`): requests by outcome and SLO, prompt and
  completion tokens, TTFT / inter-token / end-to-end histograms (seconds), in-flight requests;
- Triton (`nv_inference_pending_request_count{model}`): requests queued in Triton for each of
  the class's models (BLS, ensemble, pre/postprocessing and its own engine);
- the engine (`nv_trt_llm_request_metrics{model, request_type}`, TensorRT-LLM's family, which
  the CPU engine exports too): requests waiting for and active in the class's engine, and its
  slots (`request_type="max"`). A shared engine's numbers belong to every class on it and
  are marked shared.

Verdicts follow the benchmark's rule: each latency objective is checked at the objective's
percentile over the window, where requests that failed (outcome rejected, timeout or error)
enter as +inf; `min_output_tokens_per_s` is checked against the class's output tokens/s. A
class that finished no request in the window is `idle`. Quantiles come from histogram buckets
(linear inside a bucket), so they are as fine as the gateway's buckets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tritonsla.monitor.scrape import Scrape
from tritonsla.monitor.window import Buckets, counter_delta, histogram_delta, quantile
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Slo
from tritonsla.routing.table import EndpointTable, Replica

GATEWAY = "tritonsla_gateway_"
REQUESTS = f"{GATEWAY}requests_total"
COMPLETION_TOKENS = f"{GATEWAY}completion_tokens_total"
IN_FLIGHT = f"{GATEWAY}in_flight"
HISTOGRAMS = {"ttft_ms": "ttft_seconds", "itl_ms": "itl_seconds", "e2e_ms": "e2e_seconds"}
"""Objective key -> gateway histogram (base name after the prefix)."""
FAILED_OUTCOMES: tuple[str, ...] = ("rejected", "timeout", "error")
PENDING = "nv_inference_pending_request_count"
ENGINE_REQUESTS = "nv_trt_llm_request_metrics"
MS = 1000.0

Verdict = Literal["pass", "fail", "idle", "no objective"]


@dataclass(frozen=True)
class ClassSpec:
    """What the monitor knows of one class from the deploy and profile files."""

    name: str
    slo: Slo
    models: tuple[str, ...]
    engine: str | None
    engine_shared: bool = False


def class_specs(deployment: Deployment) -> tuple[ClassSpec, ...]:
    """Every class of `deployment`, in its order, with the models that serve it."""
    table = EndpointTable.from_deployment(deployment, replicas=[Replica("127.0.0.1:1")])
    engines = [endpoint.engine_model for endpoint in table.endpoints.values()]
    specs = []
    for name, endpoint in table.endpoints.items():
        engine = endpoint.engine_model
        shared = engine is not None and engines.count(engine) > 1
        models = tuple(m for m in endpoint.pipeline_models if not (shared and m == engine))
        specs.append(ClassSpec(name, endpoint.slo, models, engine, shared))
    return tuple(specs)


@dataclass(frozen=True)
class Latency:
    """p50 and p95 of one latency over the window (ms; +inf beyond the buckets), and the
    objective's check when the class has one on it."""

    p50: float | None
    p95: float | None
    check: Check | None = None


@dataclass(frozen=True)
class Check:
    """An objective term: `measured` against `threshold` (<= for latency, >= for a rate)."""

    metric: str
    percentile: float | None
    threshold: float
    measured: float | None
    passed: bool | None
    """None when nothing was measured."""


@dataclass(frozen=True)
class ClassView:
    """One class over the window."""

    name: str
    finished: int
    failed: int
    outcomes: dict[str, int]
    slo_met: int
    slo_missed: int
    requests_per_s: float | None
    output_tokens_per_s: float | None
    latencies: dict[str, Latency]
    throughput_check: Check | None
    verdict: Verdict
    in_flight: float | None
    queued: float | None
    engine: str | None
    engine_waiting: float | None
    engine_active: float | None
    engine_slots: float | None
    engine_shared: bool


@dataclass(frozen=True)
class Source:
    """A metrics endpoint read for the view, and why it failed when it did."""

    kind: Literal["gateway", "triton"]
    url: str
    error: str | None = None


@dataclass(frozen=True)
class MonitorView:
    """Every class over one window; `window_s` None before the second scrape."""

    deployment: str
    window_s: float | None
    classes: tuple[ClassView, ...]
    sources: tuple[Source, ...] = field(default=())


def _count(value: float | None) -> int:
    return round(value or 0.0)


def _latency(key: str, slo: Slo, buckets: Buckets | None, failed: int, judged: bool) -> Latency:
    def ms(q: float, extra: float = 0.0) -> float | None:
        value = quantile(buckets, q, extra)
        return None if value is None else value * MS

    p50, p95 = ms(0.50), ms(0.95)
    threshold = getattr(slo, key)
    if threshold is None:
        return Latency(p50, p95)
    measured = ms(slo.percentile / 100, failed) if judged else None
    passed = None if measured is None else measured <= threshold
    return Latency(p50, p95, Check(key, slo.percentile, threshold, measured, passed))


def _verdict(slo: Slo, checks: Sequence[Check], finished: int) -> Verdict:
    objective = any(getattr(slo, key) is not None for key in HISTOGRAMS)
    if not objective and slo.min_output_tokens_per_s is None:
        return "no objective"
    results = [check.passed for check in checks if check.passed is not None]
    if finished == 0 or not results:
        return "idle"
    return "pass" if all(results) else "fail"


def _engine(scrape: Scrape, model: str | None, kind: str) -> float | None:
    if model is None:
        return None
    return scrape.total(ENGINE_REQUESTS, model=model, request_type=kind)


def class_view(spec: ClassSpec, old: Scrape, new: Scrape, span: float) -> ClassView:
    """The view of class `spec` between scrapes `old` and `new`, `span` seconds apart."""
    sla = spec.name
    outcomes = _by_label(old, new, REQUESTS, "outcome", sla=sla)
    finished = sum(outcomes.values())
    failed = sum(outcomes.get(name, 0) for name in FAILED_OUTCOMES)
    tokens = counter_delta(old, new, COMPLETION_TOKENS, sla=sla)
    judged = finished > 0
    latencies = {
        key: _latency(
            key, spec.slo, histogram_delta(old, new, GATEWAY + name, sla=sla), failed, judged
        )
        for key, name in HISTOGRAMS.items()
    }
    checks = [lat.check for lat in latencies.values() if lat.check is not None]
    rate = None if tokens is None or span <= 0 else tokens / span
    throughput = None
    if spec.slo.min_output_tokens_per_s is not None:
        measured = rate if judged else None
        limit = spec.slo.min_output_tokens_per_s
        passed = None if measured is None else measured >= limit
        throughput = Check("output_tokens_per_s", None, limit, measured, passed)
        checks.append(throughput)
    queued = [new.total(PENDING, model=model) for model in spec.models]
    return ClassView(
        name=sla,
        finished=finished,
        failed=failed,
        outcomes=outcomes,
        slo_met=_count(counter_delta(old, new, REQUESTS, sla=sla, slo="met")),
        slo_missed=_count(counter_delta(old, new, REQUESTS, sla=sla, slo="missed")),
        requests_per_s=finished / span if span > 0 and new.has(GATEWAY) else None,
        output_tokens_per_s=rate,
        latencies=latencies,
        throughput_check=throughput,
        verdict=_verdict(spec.slo, checks, finished),
        in_flight=new.total(IN_FLIGHT, sla=sla),
        queued=None if all(q is None for q in queued) else sum(q or 0.0 for q in queued),
        engine=spec.engine,
        engine_waiting=_engine(new, spec.engine, "waiting"),
        engine_active=_engine(new, spec.engine, "active"),
        engine_slots=_engine(new, spec.engine, "max"),
        engine_shared=spec.engine_shared,
    )


def _by_label(old: Scrape, new: Scrape, name: str, label: str, **match: str) -> dict[str, int]:
    """Increase of `name` per value of `label` (values that did not change left out)."""
    values = sorted({labels[label] for labels, _ in new.select(name, **match) if label in labels})
    deltas = {value: counter_delta(old, new, name, **match, **{label: value}) for value in values}
    return {value: round(delta) for value, delta in deltas.items() if delta}


def monitor_view(
    deployment: str,
    specs: Sequence[ClassSpec],
    old: Scrape | None,
    new: Scrape,
    sources: Sequence[Source] = (),
) -> MonitorView:
    """Every class between `old` and `new`; before a second scrape (`old` None) there are
    no rates, quantiles or verdicts yet, only the gauges of `new`."""
    base = old if old is not None else new
    span = new.at - base.at
    classes = tuple(class_view(spec, base, new, span) for spec in specs)
    return MonitorView(deployment, span if old is not None else None, classes, tuple(sources))


def _number(value: float | None) -> float | str | None:
    """JSON-safe: +inf becomes the string "+Inf" (Prometheus's spelling); None stays null."""
    if value is None:
        return None
    return "+Inf" if math.isinf(value) else round(value, 3)


def _check_json(check: Check | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "percentile": check.percentile,
        "threshold": check.threshold,
        "measured": _number(check.measured),
        "passed": check.passed,
    }


def view_to_json(view: MonitorView) -> dict[str, Any]:
    """The snapshot `--once --json` prints: per class rates, quantiles, checks and queues."""
    classes = {}
    for item in view.classes:
        latencies = {
            key: {"p50": _number(lat.p50), "p95": _number(lat.p95), "slo": _check_json(lat.check)}
            for key, lat in item.latencies.items()
        }
        classes[item.name] = {
            "verdict": item.verdict,
            "requests_per_s": _number(item.requests_per_s),
            "output_tokens_per_s": _number(item.output_tokens_per_s),
            "finished": item.finished,
            "failed": item.failed,
            "outcomes": item.outcomes,
            "slo_met": item.slo_met,
            "slo_missed": item.slo_missed,
            **latencies,
            "output_tokens_per_s_slo": _check_json(item.throughput_check),
            "in_flight": _number(item.in_flight),
            "queued": _number(item.queued),
            "engine": {
                "model": item.engine,
                "waiting": _number(item.engine_waiting),
                "active": _number(item.engine_active),
                "slots": _number(item.engine_slots),
                "shared": item.engine_shared,
            },
        }
    return {
        "deployment": view.deployment,
        "window_s": _number(view.window_s),
        "classes": classes,
        "sources": [
            {"kind": s.kind, "url": s.url, "ok": s.error is None, "error": s.error}
            for s in view.sources
        ],
    }
