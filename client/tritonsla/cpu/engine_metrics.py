"""Engine load as Prometheus gauges on Triton's metrics endpoint (port 8002).

Triton counts requests per model but cannot see inside the engine; these gauges show what the
in-flight batcher holds (running, waiting, paused requests; KV blocks), so routers and
benchmarks can read the engine's load like TensorRT-LLM's own `nv_trt_llm_*` metrics. The
Python backend's `pb_utils.MetricFamily` is passed in, so this module runs without Triton.
Only changed values are sent (each `set` is a message to the server process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from tritonsla.cpu.engine import EngineStats

ENGINE_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("tritonsla_engine_active_requests", "Requests in the in-flight batch", "active"),
    ("tritonsla_engine_waiting_requests", "Requests waiting for a batch slot", "waiting"),
    ("tritonsla_engine_paused_requests", "Requests paused, to resume by recomputing", "paused"),
    ("tritonsla_engine_kv_blocks_used", "KV-cache blocks in use", "kv_blocks_used"),
    ("tritonsla_engine_kv_blocks_free", "KV-cache blocks free", "kv_blocks_free"),
    (
        "tritonsla_engine_generated_tokens",
        "Tokens generated since the model loaded",
        "generated_tokens",
    ),
    (
        "tritonsla_engine_preemptions",
        "Sequences paused to free KV blocks, or batch slots for a higher priority",
        "preemptions",
    ),
)


PROGRESS_INTERVAL_S = 0.25
"""While requests stream, gauges are refreshed at most this often; submits and finishes always."""


class Gauge(Protocol):
    """What a Triton metric offers (pb_utils.Metric)."""

    def set(self, value: float) -> None: ...


GaugeFactory = Callable[[str, str, dict[str, str]], Gauge]
"""(metric name, description, labels) -> gauge."""


class EngineMetrics:
    """Publishes EngineStats through gauges made by `factory`, one per ENGINE_GAUGES entry."""

    def __init__(self, factory: GaugeFactory, labels: dict[str, str]) -> None:
        self._gauges = {
            field: factory(name, description, labels) for name, description, field in ENGINE_GAUGES
        }
        self._last: dict[str, Any] = {}
        self._published_at = float("-inf")

    def due(self, now: float, interval: float = PROGRESS_INTERVAL_S) -> bool:
        """Whether `interval` seconds passed since the last publish (for progress updates)."""
        return now - self._published_at >= interval

    def publish(self, stats: EngineStats, now: float = 0.0) -> None:
        """Set every gauge whose value changed since the last call (`now`: monotonic time)."""
        self._published_at = now
        for field, value in asdict(stats).items():
            gauge = self._gauges.get(field)
            if gauge is not None and self._last.get(field) != value:
                gauge.set(float(value))
                self._last[field] = value
