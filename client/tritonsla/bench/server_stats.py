"""What the server saw during a run: statistics API and Prometheus deltas, per model.

Snapshots are taken just before and just after a run; the differences belong to the run.
- Statistics API (gRPC `ModelStatistics`, every model, composing models included): requests,
  failures, inferences, executions and the time spent queued and in compute (input, infer,
  output); means are per counted event, as Triton counts them.
- Prometheus (`/metrics`, read with prometheus_client's parser): every sample of Triton's
  `nv_inference_*`, TensorRT-LLM's `nv_trt_llm_*` and the CPU engine's `tritonsla_engine_*`
  families; counters as deltas, gauges as the value after the run. Samples are named by their
  family (a counter's `_total` dropped, as prometheus_client names families).
Parsing and differencing are pure; `snapshot()` is the I/O edge.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import tritonclient.grpc as grpcclient
from prometheus_client.parser import text_string_to_metric_families

from tritonsla.routing.load import MetricsFormatError

PREFIXES = ("nv_inference_", "nv_trt_llm_", "tritonsla_engine_")
PHASES: tuple[str, ...] = ("queue", "compute_input", "compute_infer", "compute_output")


@dataclass(frozen=True)
class ModelCounters:
    """Cumulative statistics of one model: counts and nanoseconds per phase."""

    success: int
    fail: int
    inferences: int
    executions: int
    phase_count: dict[str, int]
    phase_ns: dict[str, int]


@dataclass(frozen=True)
class ModelDelta:
    """One model over the run; `*_ms` are means per counted event (None when none)."""

    model: str
    success: int
    fail: int
    inferences: int
    executions: int
    mean_batch: float | None
    queue_ms: float | None
    compute_input_ms: float | None
    compute_infer_ms: float | None
    compute_output_ms: float | None


@dataclass(frozen=True)
class MetricSample:
    """One Prometheus series: a counter's change over the run or a gauge's value after it."""

    name: str
    labels: dict[str, str]
    kind: str
    value: float


@dataclass(frozen=True)
class Snapshot:
    """Statistics of every model and `nv_inference_*` samples of one server at one moment."""

    models: dict[str, ModelCounters]
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    kinds: dict[str, str]


@dataclass(frozen=True)
class ServerDelta:
    """What one server did during a run."""

    address: str
    models: tuple[ModelDelta, ...]
    metrics: tuple[MetricSample, ...]


def _int(value: object) -> int:
    return int(value) if value not in (None, "") else 0  # type: ignore[call-overload]


def parse_statistics(stats: Mapping) -> dict[str, ModelCounters]:
    """ModelCounters per model name from `get_inference_statistics(as_json=True)` (versions summed).

    The JSON form writes 64-bit numbers as strings and leaves zero fields out.
    """
    found: dict[str, ModelCounters] = {}
    for row in stats.get("model_stats", []):
        inference = row.get("inference_stats", {})
        now = ModelCounters(
            success=_int(inference.get("success", {}).get("count")),
            fail=_int(inference.get("fail", {}).get("count")),
            inferences=_int(row.get("inference_count")),
            executions=_int(row.get("execution_count")),
            phase_count={p: _int(inference.get(p, {}).get("count")) for p in PHASES},
            phase_ns={p: _int(inference.get(p, {}).get("ns")) for p in PHASES},
        )
        old = found.get(row["name"])
        if old is not None:
            now = ModelCounters(
                old.success + now.success,
                old.fail + now.fail,
                old.inferences + now.inferences,
                old.executions + now.executions,
                {p: old.phase_count[p] + now.phase_count[p] for p in PHASES},
                {p: old.phase_ns[p] + now.phase_ns[p] for p in PHASES},
            )
        found[row["name"]] = now
    return found


def parse_metrics(
    text: str,
) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], dict[str, str]]:
    """(samples of the PREFIXES families keyed by family name and sorted labels, family kinds).

    Raises ValueError where the text is not Prometheus exposition format."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    kinds: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(PREFIXES):
            continue
        kinds[family.name] = family.type
        for sample in family.samples:
            if sample.name in (family.name, f"{family.name}_total"):
                samples[(family.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, kinds


def _mean_ms(ns: int, count: int) -> float | None:
    return ns / count / 1e6 if count > 0 else None


def model_delta(model: str, before: ModelCounters | None, after: ModelCounters) -> ModelDelta:
    """The change of one model's counters; a model that appeared counts from zero."""
    zero = ModelCounters(0, 0, 0, 0, dict.fromkeys(PHASES, 0), dict.fromkeys(PHASES, 0))
    old = before or zero
    count = {p: after.phase_count[p] - old.phase_count[p] for p in PHASES}
    ns = {p: after.phase_ns[p] - old.phase_ns[p] for p in PHASES}
    inferences = after.inferences - old.inferences
    executions = after.executions - old.executions
    return ModelDelta(
        model=model,
        success=after.success - old.success,
        fail=after.fail - old.fail,
        inferences=inferences,
        executions=executions,
        mean_batch=inferences / executions if executions > 0 else None,
        queue_ms=_mean_ms(ns["queue"], count["queue"]),
        compute_input_ms=_mean_ms(ns["compute_input"], count["compute_input"]),
        compute_infer_ms=_mean_ms(ns["compute_infer"], count["compute_infer"]),
        compute_output_ms=_mean_ms(ns["compute_output"], count["compute_output"]),
    )


def server_delta(address: str, before: Snapshot, after: Snapshot) -> ServerDelta:
    """Models that did something during the run and every changed or gauge metric."""
    models = tuple(
        delta
        for name, counters in sorted(after.models.items())
        if (delta := model_delta(name, before.models.get(name), counters)).success
        or delta.fail
        or delta.executions
    )
    samples = []
    for (name, labels), value in sorted(after.metrics.items()):
        kind = after.kinds.get(name, "untyped")
        if kind == "gauge":
            samples.append(MetricSample(name, dict(labels), kind, value))
            continue
        change = value - before.metrics.get((name, labels), 0.0)
        if change:
            samples.append(MetricSample(name, dict(labels), kind, change))
    return ServerDelta(address, models, tuple(samples))


def _fetch_metrics(
    url: str, timeout: float
) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], dict[str, str]]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode("utf-8", errors="replace")
    try:
        return parse_metrics(text)
    except ValueError as exc:
        raise MetricsFormatError(f"{url} is not Prometheus text: {exc}") from exc


def _snapshot_sync(address: str, metrics_url: str | None, timeout: float) -> Snapshot:
    client = grpcclient.InferenceServerClient(address)
    try:
        stats = client.get_inference_statistics(as_json=True, client_timeout=timeout)
    finally:
        client.close()
    samples, kinds = _fetch_metrics(metrics_url, timeout) if metrics_url else ({}, {})
    return Snapshot(parse_statistics(stats), samples, kinds)


async def snapshot(address: str, metrics_url: str | None, timeout: float = 10.0) -> Snapshot:
    """Statistics (gRPC at `address`) and metrics (`metrics_url`, when known) of one server."""
    return await asyncio.to_thread(_snapshot_sync, address, metrics_url, timeout)
