"""Statistics API and Prometheus parsing and deltas (pure)."""

from __future__ import annotations

import pytest

from tritonsla.bench.server_stats import (
    Snapshot,
    parse_metrics,
    parse_statistics,
    server_delta,
)


def _stats(success: int, queue_ns: int, infer_ns: int, executions: int) -> dict:
    """The JSON form of ModelStatistics: 64-bit numbers as strings, zero fields left out."""
    return {
        "model_stats": [
            {
                "name": "realtime_tensorrt_llm",
                "version": "1",
                "inference_count": str(success),
                "execution_count": str(executions),
                "inference_stats": {
                    "success": {"count": str(success), "ns": "1"},
                    "queue": {"count": str(success), "ns": str(queue_ns)},
                    "compute_infer": {"count": str(executions), "ns": str(infer_ns)},
                },
            },
            {"name": "idle_model", "version": "1", "inference_stats": {}},
        ]
    }


METRICS_BEFORE = """# HELP nv_inference_request_success Number of successful inference requests
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="realtime_ensemble",version="1"} 10
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="realtime_ensemble",reason="REJECTED",version="1"} 0
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{model="realtime_ensemble",version="1"} 3
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.5
"""
METRICS_AFTER = (
    METRICS_BEFORE.replace("} 10", "} 25")
    .replace('reason="REJECTED",version="1"} 0', 'reason="REJECTED",version="1"} 4')
    .replace("} 3\n", "} 1\n")
)


def test_parse_statistics_reads_string_numbers_and_missing_zeros() -> None:
    counters = parse_statistics(_stats(8, 16_000_000, 40_000_000, 4))
    model = counters["realtime_tensorrt_llm"]
    assert (model.success, model.inferences, model.executions) == (8, 8, 4)
    assert model.phase_ns["queue"] == 16_000_000
    assert model.phase_count["compute_input"] == 0
    assert counters["idle_model"].success == 0


def test_parse_metrics_keeps_nv_inference_samples_and_kinds() -> None:
    samples, kinds = parse_metrics(METRICS_BEFORE)
    key = ("nv_inference_request_success", (("model", "realtime_ensemble"), ("version", "1")))
    assert samples[key] == 10
    assert kinds["nv_inference_pending_request_count"] == "gauge"
    assert not any(name == "nv_cpu_utilization" for name, _ in samples)


def test_server_delta_per_model_and_metric() -> None:
    before = Snapshot(
        parse_statistics(_stats(8, 16_000_000, 40_000_000, 4)), *parse_metrics(METRICS_BEFORE)
    )
    after = Snapshot(
        parse_statistics(_stats(18, 36_000_000, 70_000_000, 9)), *parse_metrics(METRICS_AFTER)
    )
    delta = server_delta("127.0.0.1:8001", before, after)
    (model,) = delta.models  # the idle model did nothing and is left out
    assert (model.model, model.success, model.executions) == ("realtime_tensorrt_llm", 10, 5)
    assert model.mean_batch == pytest.approx(2.0)
    assert model.queue_ms == pytest.approx(2.0)  # 20 ms over 10 requests
    assert model.compute_infer_ms == pytest.approx(6.0)  # 30 ms over 5 executions
    assert model.compute_input_ms is None
    metrics = {(m.name, m.labels.get("reason")): m for m in delta.metrics}
    assert metrics[("nv_inference_request_success", None)].value == 15
    assert metrics[("nv_inference_request_failure", "REJECTED")].value == 4
    pending = metrics[("nv_inference_pending_request_count", None)]
    assert (pending.kind, pending.value) == ("gauge", 1)


def test_engine_families_are_kept_and_counters_named_by_family() -> None:
    text = """# TYPE tritonsla_engine_generated_tokens_total counter
tritonsla_engine_generated_tokens_total{model="m",version="1"} 12
# TYPE nv_trt_llm_request_metrics gauge
nv_trt_llm_request_metrics{model="m",request_type="active",version="1"} 3
# TYPE other_total counter
other_total 4
"""
    samples, kinds = parse_metrics(text)
    labels = (("model", "m"), ("version", "1"))
    assert samples[("tritonsla_engine_generated_tokens", labels)] == 12
    assert kinds == {
        "tritonsla_engine_generated_tokens": "counter",
        "nv_trt_llm_request_metrics": "gauge",
    }
    with pytest.raises(ValueError):
        parse_metrics('nv_inference_count{model="m"} many\n')
