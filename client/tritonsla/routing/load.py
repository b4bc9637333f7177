"""Live load per replica: server queue figures polled in the background, local outstanding counts.

The server side comes from Triton's metrics (Prometheus text, read with prometheus_client's
parser: nv_inference_pending_request_count, nv_inference_queue_duration_us,
nv_inference_request_success / _failure), or from the gRPC statistics API for replicas whose
metrics URL is unknown (no pending count there). Figures are summed over every model of the
endpoint's pipeline: a request waits in each of their queues.
Requests inside the engine count too, where it reports them under TensorRT-LLM's own family
`nv_trt_llm_request_metrics{request_type="active"}` (requests the engine holds: scheduled in the
batch plus waiting; TensorRT-LLM's Triton backend and this project's CPU engine both publish it):
Triton's pending count cannot see them, since a decoupled engine takes requests off Triton's
queue at once. Polling happens in `tritonsla.routing.monitor`, never per request.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tritonsla.routing.table import Endpoint, Replica

PENDING = "nv_inference_pending_request_count"
QUEUE_US = "nv_inference_queue_duration_us"
SUCCESS = "nv_inference_request_success"
FAILURE = "nv_inference_request_failure"
ENGINE_REQUESTS = "nv_trt_llm_request_metrics"
ROUTING_METRICS = (PENDING, QUEUE_US, SUCCESS, FAILURE, ENGINE_REQUESTS)


class MetricsFormatError(OSError):
    """A metrics endpoint answered with text that is not Prometheus exposition format.

    An OSError, as urllib's failed reads are: callers treat it as a failed poll."""


@dataclass(frozen=True)
class Counters:
    """Cumulative queue figures of one model on one server (gauges: pending, and engine =
    requests the engine holds; None = unknown)."""

    pending: float | None
    queue_us: float
    completed: float
    engine: float | None = None


def parse_prometheus(text: str) -> dict[str, Counters]:
    """Per-model Counters from Prometheus text, summed over versions and failure reasons.

    Raises ValueError where the text is not Prometheus exposition format."""
    # imported here: prometheus_client's package loads its HTTP exposition code (~28 ms), which
    # a client that never polls should not pay at import
    from prometheus_client.parser import text_string_to_metric_families

    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ROUTING_METRICS:
            continue
        for sample in family.samples:
            model = sample.labels.get("model")
            if model is None or sample.name not in (family.name, f"{family.name}_total"):
                continue
            if family.name == ENGINE_REQUESTS and sample.labels.get("request_type") != "active":
                continue
            key = (family.name, model)
            sums[key] = sums.get(key, 0.0) + sample.value
    models = {model for _, model in sums}
    return {
        model: Counters(
            pending=sums.get((PENDING, model)),
            queue_us=sums.get((QUEUE_US, model), 0.0),
            completed=sums.get((SUCCESS, model), 0.0) + sums.get((FAILURE, model), 0.0),
            engine=sums.get((ENGINE_REQUESTS, model)),
        )
        for model in models
    }


def fetch_metrics(url: str, timeout: float) -> dict[str, Counters]:
    """GET a Triton metrics endpoint and parse it (MetricsFormatError: not Prometheus text)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode("utf-8", errors="replace")
    try:
        return parse_prometheus(text)
    except ValueError as exc:
        raise MetricsFormatError(f"{url} is not Prometheus text: {exc}") from exc


def statistics_counters(stats: Mapping) -> dict[str, Counters]:
    """Counters from the statistics API's JSON (`get_inference_statistics(as_json=True)`)."""
    found: dict[str, Counters] = {}
    for row in stats.get("model_stats", []):
        inference = row.get("inference_stats", {})
        queue_ns = float(inference.get("queue", {}).get("ns", 0))
        done = sum(float(inference.get(k, {}).get("count", 0)) for k in ("success", "fail"))
        old = found.get(row["name"], Counters(None, 0.0, 0.0))
        found[row["name"]] = Counters(None, old.queue_us + queue_ns / 1000, old.completed + done)
    return found


@dataclass(frozen=True)
class EndpointLoad:
    """What the server says of one endpoint: requests in it (queued, or inside the engine when
    it says so), recent mean queue time."""

    pending: float
    queue_ms: float


IDLE = EndpointLoad(0.0, 0.0)


def endpoint_load(
    models: Iterable[str], before: Mapping[str, Counters], after: Mapping[str, Counters]
) -> EndpointLoad:
    """Requests in the pipeline (queued + inside the engine) and the mean queue time of requests
    completed between two polls."""
    pending = 0.0
    queue_ms = 0.0
    for model in models:
        now = after.get(model)
        if now is None:
            continue
        pending += (now.pending or 0.0) + (now.engine or 0.0)
        old = before.get(model)
        if old is not None and now.completed > old.completed:
            queue_ms += (now.queue_us - old.queue_us) / (now.completed - old.completed) / 1000
    return EndpointLoad(pending, max(queue_ms, 0.0))


class LoadBoard:
    """Local outstanding requests and the latest polled load, per (replica, SLA class).

    Thread-safe for the sync client's threads; the async client uses it from one loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outstanding: dict[tuple[str, str], int] = {}
        self._load: dict[tuple[str, str], EndpointLoad] = {}
        self._counters: dict[str, dict[str, Counters]] = {}
        self._polled_at: dict[str, float] = {}
        self._turn = 0

    def begin(self, replica: Replica, endpoint: Endpoint) -> None:
        key = (replica.address, endpoint.sla)
        with self._lock:
            self._outstanding[key] = self._outstanding.get(key, 0) + 1

    def end(self, replica: Replica, endpoint: Endpoint) -> None:
        key = (replica.address, endpoint.sla)
        with self._lock:
            self._outstanding[key] = self._outstanding.get(key, 1) - 1

    def outstanding(self, replica: Replica, endpoint: Endpoint) -> int:
        return self._outstanding.get((replica.address, endpoint.sla), 0)

    def load(self, replica: Replica, endpoint: Endpoint) -> EndpointLoad:
        return self._load.get((replica.address, endpoint.sla), IDLE)

    def score(self, replica: Replica, endpoint: Endpoint) -> float:
        """Requests ahead of a new one: what we have in flight there, or what the server says is
        in the pipeline (other clients' too), if more."""
        return max(self.outstanding(replica, endpoint), self.load(replica, endpoint).pending)

    def least_outstanding(
        self, endpoint: Endpoint, usable: Callable[[Replica], bool]
    ) -> Replica | None:
        """The usable replica with the lowest score; ties rotate so traffic spreads."""
        replicas = endpoint.replicas
        count = len(replicas)
        self._turn += 1
        best: Replica | None = None
        best_score = 0.0
        for step in range(count):
            replica = replicas[(self._turn + step) % count]
            if not usable(replica):
                continue
            score = self.score(replica, endpoint)
            if best is None or score < best_score:
                best, best_score = replica, score
        return best

    def last_poll(self, address: str) -> float | None:
        """time.monotonic() of the latest successful poll of `address`; None before any."""
        return self._polled_at.get(address)

    def record(
        self,
        replica: Replica,
        endpoints: Iterable[Endpoint],
        counters: dict[str, Counters],
        now: float,
    ) -> None:
        """Store a poll of `replica` and derive each endpoint's load from the previous one."""
        before = self._counters.get(replica.address, {})
        self._counters[replica.address] = counters
        self._polled_at[replica.address] = now
        for endpoint in endpoints:
            load = endpoint_load(endpoint.pipeline_models, before, counters)
            self._load[(replica.address, endpoint.sla)] = load
