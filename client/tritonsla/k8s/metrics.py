"""Metric families the exporters of a deployment provide, so manifests only name real ones.

- Triton 2.51's own per-model families (`nv_inference_*`, metrics port; Triton's metrics docs,
  docs/user_guide/metrics.md). The CPU server here exports them; an integration test checks
  the ones the manifests use against its /metrics.
- TensorRT-LLM's Triton backend families (`nv_trt_llm_*`, `nv_llm_*`): triton_backend/
  inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc. The CPU engine
  exports the two the router reads (`tritonsla.cpu.engine_metrics.FAMILIES`).
- The CPU engine's own `tritonsla_engine_*`, and the gateway's `tritonsla_gateway_*` (label
  `sla`).
"""

from __future__ import annotations

from tritonsla.cpu.engine_metrics import FAMILIES as CPU_ENGINE_FAMILIES
from tritonsla.profiles.schema import EngineKind

TRITON_FAMILIES: frozenset[str] = frozenset(
    {
        "nv_inference_request_success",
        "nv_inference_request_failure",
        "nv_inference_count",
        "nv_inference_exec_count",
        "nv_inference_request_duration_us",
        "nv_inference_queue_duration_us",
        "nv_inference_compute_input_duration_us",
        "nv_inference_compute_infer_duration_us",
        "nv_inference_compute_output_duration_us",
        "nv_inference_pending_request_count",
    }
)
"""Per-model families of Triton 2.51 (counters in microseconds and counts, one gauge)."""

TRTLLM_FAMILIES: frozenset[str] = frozenset(
    {
        "nv_trt_llm_request_metrics",
        "nv_trt_llm_runtime_memory_metrics",
        "nv_trt_llm_kv_cache_block_metrics",
        "nv_trt_llm_inflight_batcher_metrics",
        "nv_trt_llm_v1_metrics",
        "nv_trt_llm_general_metrics",
        "nv_trt_llm_disaggregated_serving_metrics",
        "nv_llm_input_token_len",
        "nv_llm_output_token_len",
    }
)
"""Families of TensorRT-LLM's C++ Triton backend (trt-engine)."""


def server_families(engine_kind: EngineKind) -> frozenset[str]:
    """Families a tritonserver of `engine_kind` exports on its metrics port."""
    if engine_kind == "cpu":
        return TRITON_FAMILIES | frozenset(CPU_ENGINE_FAMILIES)
    if engine_kind == "trt-engine":
        return TRITON_FAMILIES | TRTLLM_FAMILIES
    return TRITON_FAMILIES  # llmapi: the python model exports no engine families


GATEWAY_SERIES: frozenset[str] = frozenset(
    {
        "tritonsla_gateway_ttft_seconds_bucket",
        "tritonsla_gateway_itl_seconds_bucket",
        "tritonsla_gateway_e2e_seconds_bucket",
        "tritonsla_gateway_requests_total",
        "tritonsla_gateway_in_flight",
    }
)
"""Series of the gateway (tritonsla.gateway.metrics) the dashboard reads."""

KUBE_STATE_FAMILIES: frozenset[str] = frozenset(
    {
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }
)
"""kube-state-metrics families (replicas of each class's HPA, Deployment or LeaderWorkerSet)."""
