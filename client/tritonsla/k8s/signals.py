"""The autoscaling signals an HPA can follow, as prometheus-adapter exposes them per pod.

Each signal is one adapter rule (docs/config.md of kubernetes-sigs/prometheus-adapter:
`seriesQuery`, `resources.overrides`, `name.matches`/`as`, `metricsQuery` with `<<.Series>>`,
`<<.LabelMatchers>>`, `<<.GroupBy>>`) over families an exporter provides, summed over every model
of the pod (each pod serves one class). A class's default follows its objective:
- a first-token objective (realtime): requests waiting for an engine slot, target 1 per pod, so
  a second pod comes as soon as requests queue;
- an end-to-end objective (interactive): the same signal, target a quarter of a batch;
- a throughput objective (batch): its backlog (Triton's queue plus requests in the engine),
  target two full batches per pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonsla.profiles.schema import Profile


@dataclass(frozen=True)
class Signal:
    """A per-pod custom metric: its name in the custom metrics API and how it is computed."""

    name: str
    families: tuple[str, ...]
    series_query: str
    metrics_query: str
    description: str


_POD = '{namespace!="",pod!=""}'

SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "tritonsla_engine_waiting_requests",
            ("nv_trt_llm_request_metrics",),
            f"nv_trt_llm_request_metrics{_POD}",
            'sum(<<.Series>>{<<.LabelMatchers>>,request_type="waiting"}) by (<<.GroupBy>>)',
            "requests the engine holds but has not scheduled (TensorRT-LLM request_type=waiting)",
        ),
        Signal(
            "tritonsla_pending_requests",
            ("nv_inference_pending_request_count",),
            f"nv_inference_pending_request_count{_POD}",
            "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
            "requests queued in Triton, summed over the class's models",
        ),
        Signal(
            "tritonsla_backlog_requests",
            ("nv_inference_pending_request_count", "nv_trt_llm_request_metrics"),
            f"nv_inference_pending_request_count{_POD}",
            "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>) + "
            'sum(nv_trt_llm_request_metrics{<<.LabelMatchers>>,request_type="active"}) '
            "by (<<.GroupBy>>)",
            "requests queued in Triton plus those the engine holds (running and waiting)",
        ),
        Signal(
            "tritonsla_queue_time_ms",
            ("nv_inference_queue_duration_us", "nv_inference_request_success"),
            f"nv_inference_queue_duration_us{_POD}",
            "sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>) / "
            "clamp_min(sum(rate(nv_inference_request_success{<<.LabelMatchers>>}[1m])) "
            "by (<<.GroupBy>>), 0.001) / 1000",
            "mean time a model request waited in Triton's queue over the last minute (ms)",
        ),
        Signal(
            "tritonsla_queue_compute_ratio",
            ("nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us"),
            f"nv_inference_queue_duration_us{_POD}",
            "sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>) / "
            "clamp_min(sum(rate(nv_inference_compute_infer_duration_us{<<.LabelMatchers>>}[1m])) "
            "by (<<.GroupBy>>), 1)",
            "queue time over compute time (the TensorRT-LLM autoscaling tutorial's signal)",
        ),
    )
}
"""Every signal the manifests can scale on, by custom-metric name."""


def default_signal(profile: Profile, exported: frozenset[str]) -> tuple[str, float]:
    """(signal, per-pod target) a class scales on when its deploy file names none; servers that
    do not export the engine's families (`exported`) fall back to Triton's pending count."""
    slots = profile.batching.max_batch_size
    if profile.slo.ttft_ms is not None:
        name, target = "tritonsla_engine_waiting_requests", 1.0
    elif profile.slo.min_output_tokens_per_s is not None:
        name, target = "tritonsla_backlog_requests", float(2 * slots)
    else:
        name, target = "tritonsla_engine_waiting_requests", float(max(1, slots // 4))
    if not set(SIGNALS[name].families) <= exported:
        name = "tritonsla_pending_requests"
    return name, target


def quantity(value: float) -> str:
    """A Kubernetes quantity for `value`: whole numbers as such, else milli-units."""
    if float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"
