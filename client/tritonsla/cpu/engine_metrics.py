"""Engine load and counters as Prometheus metrics on Triton's metrics endpoint (port 8002).

Triton counts requests per model but cannot see inside the engine; these series show what the
in-flight batcher holds, under two names:
- TensorRT-LLM's own families and labels, so one load signal reads the same on CPU and GPU (the
  router, Gateway API Inference Extension-style schedulers): `nv_trt_llm_request_metrics
  {request_type=active|scheduled|waiting|max}` and `nv_trt_llm_kv_cache_block_metrics
  {kv_cache_block_type=max|free|used|tokens_per|fraction}`, gauges. Names, labels and meanings
  follow TensorRT-LLM's Triton backend: triton_backend/inflight_batcher_llm/src/
  custom_metrics_reporter/custom_metrics_reporter.cc (families, label values) and
  model_instance_state.cc `WaitForStats` (active = requests the executor holds, scheduled = in
  this step's batch, waiting = active - scheduled), NVIDIA/TensorRT-LLM commits
  89fd9b74ab7ae753b4c6b3db25a400dca7ea54a0 and c8c6df08bd0ead54cd47f7973e1e425c28a174cd.
  This engine has no separate executor queue, so every request it holds is active: running
  ones are scheduled, waiting and paused ones are waiting.
- `tritonsla_engine_*`: gauges of running, waiting and paused requests and KV blocks, and the
  counters `tritonsla_engine_generated_tokens_total` and `tritonsla_engine_preemptions_total`.

Every instance of a model shares one series per label set (Triton keys metrics by labels), so
each instance adds its own share by increments: counts sum over instances; `fraction` and
`tokens_per` add 1/instances of the instance's value (instances have one config, so the series
shows their value). `withdraw` takes an unloading instance's load back out. The Python
backend's `pb_utils.MetricFamily` is passed in through a factory, so this module runs without
Triton; only changed values are sent (each increment is a message to the server process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tritonsla.cpu.engine import EngineStats

Kind = Literal["gauge", "counter"]

REQUESTS = "nv_trt_llm_request_metrics"
KV_BLOCKS = "nv_trt_llm_kv_cache_block_metrics"

FAMILIES: dict[str, tuple[Kind, str]] = {
    "tritonsla_engine_active_requests": ("gauge", "Requests in the in-flight batch"),
    "tritonsla_engine_waiting_requests": ("gauge", "Requests waiting for a batch slot"),
    "tritonsla_engine_paused_requests": ("gauge", "Requests paused, to resume by recomputing"),
    "tritonsla_engine_kv_blocks_used": ("gauge", "KV-cache blocks in use"),
    "tritonsla_engine_kv_blocks_free": ("gauge", "KV-cache blocks free"),
    "tritonsla_engine_generated_tokens_total": ("counter", "Tokens generated"),
    "tritonsla_engine_preemptions_total": (
        "counter",
        "Sequences paused to free KV blocks, or batch slots for a higher priority",
    ),
    REQUESTS: ("gauge", "TRT LLM request metrics"),
    KV_BLOCKS: ("gauge", "TRT LLM KV cache block metrics"),
}
"""Family name -> (kind, description)."""


@dataclass(frozen=True)
class EngineShape:
    """What the stats do not say: the engine's batch limit and block size, and how many
    instances of the model share its series."""

    max_batch_size: int
    tokens_per_block: int
    instances: int = 1


@dataclass(frozen=True)
class Series:
    """One exported series: its family, the labels it adds, and its value.

    `mean`: the series shows the instances' common value rather than their sum."""

    family: str
    labels: tuple[tuple[str, str], ...]
    value: Callable[[EngineStats, EngineShape], float]
    mean: bool = False


def _fraction(stats: EngineStats, shape: EngineShape) -> float:
    blocks = stats.kv_blocks_used + stats.kv_blocks_free
    return stats.kv_blocks_used / blocks if blocks else 0.0


SERIES: tuple[Series, ...] = (
    Series("tritonsla_engine_active_requests", (), lambda s, _: s.active),
    Series("tritonsla_engine_waiting_requests", (), lambda s, _: s.waiting),
    Series("tritonsla_engine_paused_requests", (), lambda s, _: s.paused),
    Series("tritonsla_engine_kv_blocks_used", (), lambda s, _: s.kv_blocks_used),
    Series("tritonsla_engine_kv_blocks_free", (), lambda s, _: s.kv_blocks_free),
    Series("tritonsla_engine_generated_tokens_total", (), lambda s, _: s.generated_tokens),
    Series("tritonsla_engine_preemptions_total", (), lambda s, _: s.preemptions),
    Series(REQUESTS, (("request_type", "active"),), lambda s, _: s.active + s.waiting + s.paused),
    Series(REQUESTS, (("request_type", "scheduled"),), lambda s, _: s.active),
    Series(REQUESTS, (("request_type", "waiting"),), lambda s, _: s.waiting + s.paused),
    Series(REQUESTS, (("request_type", "max"),), lambda _, shape: shape.max_batch_size),
    Series(
        KV_BLOCKS,
        (("kv_cache_block_type", "max"),),
        lambda s, _: s.kv_blocks_used + s.kv_blocks_free,
    ),
    Series(KV_BLOCKS, (("kv_cache_block_type", "free"),), lambda s, _: s.kv_blocks_free),
    Series(KV_BLOCKS, (("kv_cache_block_type", "used"),), lambda s, _: s.kv_blocks_used),
    Series(
        KV_BLOCKS,
        (("kv_cache_block_type", "tokens_per"),),
        lambda _, shape: shape.tokens_per_block,
        mean=True,
    ),
    Series(KV_BLOCKS, (("kv_cache_block_type", "fraction"),), _fraction, mean=True),
)

PROGRESS_INTERVAL_S = 0.25
"""While requests stream, metrics are refreshed at most this often; submits and finishes always."""


class Metric(Protocol):
    """What a Triton metric offers (pb_utils.Metric); a gauge's increment may be negative."""

    def increment(self, value: float) -> None: ...


MetricFactory = Callable[[str, str, Kind, dict[str, str]], Metric]
"""(family name, description, kind, labels) -> metric."""


def instance_count(model_config: Mapping[str, Any]) -> int:
    """Instances of a model, from its config's `instance_group` (JSON form; 1 when absent)."""
    groups = model_config.get("instance_group") or []
    return sum(int(group.get("count", 1)) for group in groups) or 1


class EngineMetrics:
    """Publishes EngineStats through metrics made by `factory`, one per SERIES entry."""

    def __init__(self, factory: MetricFactory, labels: dict[str, str], shape: EngineShape) -> None:
        self._shape = shape
        self._metrics: list[tuple[Series, Kind, Metric]] = []
        for series in SERIES:
            kind, description = FAMILIES[series.family]
            metric = factory(series.family, description, kind, {**labels, **dict(series.labels)})
            self._metrics.append((series, kind, metric))
        self._added: dict[int, float] = {}
        self._published_at = float("-inf")

    def due(self, now: float, interval: float = PROGRESS_INTERVAL_S) -> bool:
        """Whether `interval` seconds passed since the last publish (for progress updates)."""
        return now - self._published_at >= interval

    def publish(self, stats: EngineStats, now: float = 0.0) -> None:
        """Bring every series whose share changed to `stats` (`now`: monotonic time)."""
        self._published_at = now
        for index, (series, _, metric) in enumerate(self._metrics):
            share = float(series.value(stats, self._shape))
            if series.mean:
                share /= self._shape.instances
            change = share - self._added.get(index, 0.0)
            if change:
                metric.increment(change)
                self._added[index] = share

    def withdraw(self) -> None:
        """Take this instance's share out of every gauge (counters keep their totals)."""
        for index, (_, kind, metric) in enumerate(self._metrics):
            added = self._added.get(index, 0.0)
            if kind == "gauge" and added:
                metric.increment(-added)
                self._added[index] = 0.0
