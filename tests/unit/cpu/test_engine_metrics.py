"""Engine load gauges: one per stat, values sent only when they change."""

from __future__ import annotations

from tritonsla.cpu.engine import EngineStats
from tritonsla.cpu.engine_metrics import ENGINE_GAUGES, EngineMetrics


class RecordingGauge:
    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def set(self, value: float) -> None:
        self.log.append((self.name, value))


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


def test_publish_sets_each_gauge_then_only_changes():
    log: list = []
    made: list = []

    def factory(name, description, labels):
        made.append((name, labels))
        return RecordingGauge(name, log)

    metrics = EngineMetrics(factory, {"model": "m"})
    assert [name for name, _ in made] == [name for name, _, _ in ENGINE_GAUGES]
    assert all(labels == {"model": "m"} for _, labels in made)
    metrics.publish(_stats())
    assert len(log) == len(ENGINE_GAUGES)
    log.clear()
    metrics.publish(_stats(active=3, kv_blocks_used=4, kv_blocks_free=6, steps=9))
    assert sorted(log) == sorted(
        [
            ("tritonsla_engine_active_requests", 3.0),
            ("tritonsla_engine_kv_blocks_used", 4.0),
            ("tritonsla_engine_kv_blocks_free", 6.0),
        ]
    )


def test_progress_updates_are_rate_limited():
    metrics = EngineMetrics(lambda name, description, labels: RecordingGauge(name, []), {})
    assert metrics.due(100.0)
    metrics.publish(_stats(), now=100.0)
    assert not metrics.due(100.1)
    assert metrics.due(100.3)
