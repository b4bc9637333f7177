"""Engine metrics: TensorRT-LLM's families and tritonsla_engine_*, shares sent as increments."""

from __future__ import annotations

import pytest

from tritonsla.cpu.engine import EngineStats
from tritonsla.cpu.engine_metrics import (
    FAMILIES,
    KV_BLOCKS,
    REQUESTS,
    SERIES,
    EngineMetrics,
    EngineShape,
    instance_count,
)

SHAPE = EngineShape(max_batch_size=4, tokens_per_block=32)


class SharedSeries:
    """Triton's registry: one value per (family, labels), whichever instance adds to it."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.kinds: dict[str, str] = {}
        self.log: list[tuple[str, dict[str, str], float]] = []

    def factory(self, name: str, description: str, kind: str, labels: dict[str, str]):
        self.kinds[name] = kind
        key = (name, tuple(sorted(labels.items())))
        self.values.setdefault(key, 0.0)
        series = self

        class Metric:
            def increment(self, value: float) -> None:
                if kind == "counter":
                    assert value >= 0, "a counter only grows"
                series.values[key] += value
                series.log.append((name, labels, value))

        return Metric()

    def value(self, name: str, **labels: str) -> float:
        return self.values[(name, tuple(sorted({"model": "m", **labels}.items())))]


def _stats(**changes) -> EngineStats:
    values = dict(
        active=0,
        waiting=0,
        paused=0,
        kv_blocks_used=0,
        kv_blocks_free=10,
        steps=0,
        context_tokens=0,
        generated_tokens=0,
        preemptions=0,
    )
    return EngineStats(**{**values, **changes})


def test_cumulative_figures_are_counters_named_total_and_the_rest_gauges():
    counters = {name for name, (kind, _) in FAMILIES.items() if kind == "counter"}
    assert counters == {
        "tritonsla_engine_generated_tokens_total",
        "tritonsla_engine_preemptions_total",
    }
    assert all(name.endswith("_total") for name in counters)
    assert {series.family for series in SERIES} == set(FAMILIES)


def test_tensorrt_llm_families_carry_its_labels_and_meanings():
    shared = SharedSeries()
    metrics = EngineMetrics(shared.factory, {"model": "m", "version": "1"}, SHAPE)
    metrics.publish(_stats(active=3, waiting=2, paused=1, kv_blocks_used=6, kv_blocks_free=2))

    def value(name: str, **labels: str) -> float:
        return shared.value(name, version="1", **labels)

    # TensorRT-LLM: active = held by the engine, scheduled = in the batch, waiting = the rest
    assert value(REQUESTS, request_type="active") == 6
    assert value(REQUESTS, request_type="scheduled") == 3
    assert value(REQUESTS, request_type="waiting") == 3
    assert value(REQUESTS, request_type="max") == 4
    assert value(KV_BLOCKS, kv_cache_block_type="max") == 8
    assert value(KV_BLOCKS, kv_cache_block_type="used") == 6
    assert value(KV_BLOCKS, kv_cache_block_type="free") == 2
    assert value(KV_BLOCKS, kv_cache_block_type="tokens_per") == 32
    assert value(KV_BLOCKS, kv_cache_block_type="fraction") == 0.75
    assert value("tritonsla_engine_active_requests") == 3
    assert shared.kinds[REQUESTS] == shared.kinds[KV_BLOCKS] == "gauge"


def test_only_changes_are_sent_and_counters_take_increments():
    shared = SharedSeries()
    metrics = EngineMetrics(shared.factory, {"model": "m"}, SHAPE)
    metrics.publish(_stats(generated_tokens=5))
    assert shared.value("tritonsla_engine_generated_tokens_total") == 5
    shared.log.clear()

    metrics.publish(_stats(generated_tokens=12, steps=9))
    assert shared.log == [("tritonsla_engine_generated_tokens_total", {"model": "m"}, 7.0)]
    shared.log.clear()
    metrics.publish(_stats(generated_tokens=12))
    assert shared.log == []


def test_instances_of_one_model_add_up_and_an_unloading_one_withdraws():
    shared = SharedSeries()
    shape = EngineShape(max_batch_size=4, tokens_per_block=32, instances=2)
    first, second = (EngineMetrics(shared.factory, {"model": "m"}, shape) for _ in range(2))
    first.publish(_stats(active=2, kv_blocks_used=5, kv_blocks_free=5, generated_tokens=10))
    second.publish(_stats(active=1, kv_blocks_used=3, kv_blocks_free=7, generated_tokens=4))

    assert shared.value(REQUESTS, request_type="active") == 3
    assert shared.value(REQUESTS, request_type="max") == 8  # slots of both instances
    assert shared.value(KV_BLOCKS, kv_cache_block_type="tokens_per") == 32  # not summed
    assert shared.value(KV_BLOCKS, kv_cache_block_type="fraction") == pytest.approx(0.4)
    assert shared.value("tritonsla_engine_generated_tokens_total") == 14

    second.withdraw()
    assert shared.value(REQUESTS, request_type="active") == 2
    assert shared.value(REQUESTS, request_type="max") == 4
    assert shared.value("tritonsla_engine_generated_tokens_total") == 14  # counters keep totals


def test_instance_count_reads_the_instance_groups():
    assert instance_count({"instance_group": [{"count": 2}, {"count": "1"}]}) == 3
    assert instance_count({}) == 1


def test_progress_updates_are_rate_limited():
    metrics = EngineMetrics(SharedSeries().factory, {}, SHAPE)
    assert metrics.due(100.0)
    metrics.publish(_stats(), now=100.0)
    assert not metrics.due(100.1)
    assert metrics.due(100.3)
