"""Live load: Prometheus and statistics parsing, queue time between polls, replica choice."""

from __future__ import annotations

import pytest

from tritonsla.routing.load import (
    Counters,
    EndpointLoad,
    LoadBoard,
    MetricsFormatError,
    endpoint_load,
    fetch_metrics,
    parse_prometheus,
    statistics_counters,
)
from tritonsla.routing.table import Replica

# As tritonserver 2.51 prints it (trimmed): HELP/TYPE lines, labels in any order, other metrics.
METRICS = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="realtime_tensorrt_llm_bls",version="1"} 40
nv_inference_request_success{model="realtime_tensorrt_llm",version="1"} 38
nv_inference_request_success{model="batch_tensorrt_llm_bls",version="1"} 7
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="realtime_tensorrt_llm_bls",reason="CANCELED",version="1"} 1
nv_inference_request_failure{model="realtime_tensorrt_llm_bls",reason="REJECTED",version="1"} 2
nv_inference_request_failure{model="realtime_tensorrt_llm_bls",reason="BACKEND",version="1"} 0
nv_inference_count{model="realtime_tensorrt_llm_bls",version="1"} 43
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="realtime_tensorrt_llm_bls",version="1"} 86000
nv_inference_queue_duration_us{model="realtime_tensorrt_llm",version="1"} 3800
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{version="1",model="realtime_tensorrt_llm_bls"} 3
nv_inference_pending_request_count{model="realtime_tensorrt_llm",version="1"} 1
nv_inference_pending_request_count{model="realtime_tensorrt_llm",version="2"} 1
# HELP nv_trt_llm_request_metrics TRT LLM request metrics
# TYPE nv_trt_llm_request_metrics gauge
nv_trt_llm_request_metrics{model="realtime_tensorrt_llm",request_type="waiting",version="1"} 3
nv_trt_llm_request_metrics{model="realtime_tensorrt_llm",request_type="scheduled",version="1"} 4
nv_trt_llm_request_metrics{model="realtime_tensorrt_llm",request_type="max",version="1"} 64
nv_trt_llm_request_metrics{model="realtime_tensorrt_llm",request_type="active",version="1"} 7
# TYPE nv_trt_llm_kv_cache_block_metrics gauge
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="free",model="batch_tensorrt_llm"} 9
# TYPE tritonsla_engine_generated_tokens_total counter
tritonsla_engine_generated_tokens_total{model="realtime_tensorrt_llm",version="1"} 900
nv_cpu_utilization 0.5
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5
"""


def test_prometheus_text_is_summed_per_model():
    counters = parse_prometheus(METRICS)

    assert counters["realtime_tensorrt_llm_bls"] == Counters(
        pending=3.0, queue_us=86_000.0, completed=43.0
    )
    assert counters["realtime_tensorrt_llm"] == Counters(2.0, 3_800.0, 38.0, engine=7.0)
    assert counters["batch_tensorrt_llm_bls"] == Counters(None, 0.0, 7.0)  # no gauge: unknown
    assert set(counters) == {
        "realtime_tensorrt_llm_bls",
        "realtime_tensorrt_llm",
        "batch_tensorrt_llm_bls",
    }


def test_statistics_api_json_gives_counters_without_pending():
    stats = {
        "model_stats": [
            {
                "name": "realtime_tensorrt_llm_bls",
                "inference_stats": {
                    "success": {"count": "4", "ns": "11343628"},
                    "fail": {"count": "1", "ns": "10"},
                    "queue": {"count": "5", "ns": "135990"},
                },
            },
            {"name": "batch_ensemble", "inference_stats": {"success": {}, "fail": {}}},
        ]
    }
    assert statistics_counters(stats) == {
        "realtime_tensorrt_llm_bls": Counters(None, 135.99, 5.0),
        "batch_ensemble": Counters(None, 0.0, 0.0),
    }


def test_queue_time_is_the_mean_of_requests_completed_between_polls():
    models = ("a", "b", "c")
    before = {"a": Counters(0, 1_000.0, 10), "b": Counters(0, 500.0, 5)}
    after = {
        "a": Counters(2, 5_000.0, 14),  # 4 completed, 4000 µs queued: 1 ms each
        "b": Counters(1, 500.0, 5),  # nothing completed: no figure
        "c": Counters(None, 9_000.0, 3),  # first poll of c: no figure yet
    }
    assert endpoint_load(models, before, after) == EndpointLoad(pending=3.0, queue_ms=1.0)
    assert endpoint_load(models, {}, after) == EndpointLoad(3.0, 0.0)


def test_requests_inside_the_engine_count_where_it_reports_them():
    counters = parse_prometheus(METRICS)
    pipeline = ("realtime_tensorrt_llm_bls", "realtime_tensorrt_llm")
    # 3 + 2 queued in Triton (2 versions), 7 held by the engine (4 scheduled + 3 waiting)
    assert endpoint_load(pipeline, {}, counters).pending == 12.0


def test_text_that_is_not_prometheus_is_refused_as_a_bad_answer(tmp_path):
    bad = 'nv_inference_request_success{model="weird"} not-a-number\n'
    with pytest.raises(ValueError, match="not-a-number"):
        parse_prometheus(bad)
    page = tmp_path / "metrics"
    page.write_text(bad)
    # an OSError, so the monitor and the bench treat it as a failed poll, as a broken answer
    with pytest.raises(MetricsFormatError, match="is not Prometheus text"):
        fetch_metrics(page.as_uri(), timeout=1.0)
    page.write_text(METRICS)
    assert fetch_metrics(page.as_uri(), timeout=1.0) == parse_prometheus(METRICS)


def test_least_outstanding_prefers_the_idlest_usable_replica(table):
    board = LoadBoard()
    endpoint = table.endpoint("interactive")
    first, second = endpoint.replicas
    for _ in range(3):
        board.begin(first, endpoint)
    board.begin(second, endpoint)

    assert board.least_outstanding(endpoint, lambda r: True) == second
    assert board.least_outstanding(endpoint, lambda r: r != second) == first
    assert board.least_outstanding(endpoint, lambda r: False) is None

    board.end(first, endpoint)
    board.end(first, endpoint)
    board.end(first, endpoint)
    assert board.outstanding(first, endpoint) == 0
    assert board.least_outstanding(endpoint, lambda r: True) == first


def test_outstanding_counts_are_per_class(table):
    board = LoadBoard()
    batch, realtime = table.endpoint("batch"), table.endpoint("realtime")
    board.begin(batch.replicas[0], batch)
    assert board.outstanding(batch.replicas[0], realtime) == 0


def test_ties_rotate_so_sequential_traffic_spreads(table):
    board = LoadBoard()
    endpoint = table.endpoint("realtime")
    picks = [board.least_outstanding(endpoint, lambda r: True) for _ in range(6)]
    assert {picks.count(r) for r in endpoint.replicas} == {3}


def test_server_pending_counts_when_other_clients_queue_there(table):
    board = LoadBoard()
    endpoint = table.endpoint("realtime")
    busy, idle = endpoint.replicas
    metrics = {"realtime_tensorrt_llm_bls": Counters(pending=5, queue_us=0.0, completed=0)}
    assert board.last_poll(busy.address) is None
    board.record(busy, table.endpoints.values(), metrics, now=12.5)
    assert board.last_poll(busy.address) == 12.5
    board.begin(idle, endpoint)
    board.begin(idle, endpoint)

    assert board.score(busy, endpoint) == 5
    assert board.score(idle, endpoint) == 2
    assert board.least_outstanding(endpoint, lambda r: True) == idle
    assert board.load(busy, table.endpoint("batch")) == EndpointLoad(0.0, 0.0)
    assert board.load(Replica("unknown:1"), endpoint) == EndpointLoad(0.0, 0.0)
