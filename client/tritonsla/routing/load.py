"""Live load per replica: server queue figures polled in the background, local outstanding counts.

The server side comes from Triton's metrics (Prometheus text: nv_inference_pending_request_count,
nv_inference_queue_duration_us, nv_inference_request_success / _failure), or from the gRPC
statistics API for replicas whose metrics URL is unknown (no pending count there). Figures are
summed over every model of the endpoint's pipeline: a request waits in each of their queues.
Where the engine publishes its own gauges (the CPU engine's tritonsla_engine_active_requests and
_waiting_requests), requests inside the engine count too: Triton's pending count cannot see
them, since a decoupled engine takes requests off Triton's queue at once.
Polling happens in `tritonsla.routing.monitor`, never per request.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tritonsla.routing.table import Endpoint, Replica

PENDING = "nv_inference_pending_request_count"
QUEUE_US = "nv_inference_queue_duration_us"
SUCCESS = "nv_inference_request_success"
FAILURE = "nv_inference_request_failure"
ENGINE_ACTIVE = "tritonsla_engine_active_requests"
ENGINE_WAITING = "tritonsla_engine_waiting_requests"
ROUTING_METRICS = (PENDING, QUEUE_US, SUCCESS, FAILURE, ENGINE_ACTIVE, ENGINE_WAITING)

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Counters:
    """Cumulative queue figures of one model on one server (gauges: pending, and engine =
    requests running or waiting inside the engine; None = unknown)."""

    pending: float | None
    queue_us: float
    completed: float
    engine: float | None = None


def parse_prometheus(text: str, names: Iterable[str] = ROUTING_METRICS) -> dict[str, Counters]:
    """Per-model Counters from Prometheus text, summed over versions and failure reasons."""
    wanted = set(names)
    sums: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        match = _SAMPLE.match(line)
        if match is None or match.group(1) not in wanted:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        model = labels.get("model")
        if model is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        key = (match.group(1), model)
        sums[key] = sums.get(key, 0.0) + value
    models = {model for _, model in sums}
    found = {}
    for model in models:
        active = sums.get((ENGINE_ACTIVE, model))
        waiting = sums.get((ENGINE_WAITING, model))
        found[model] = Counters(
            pending=sums.get((PENDING, model)),
            queue_us=sums.get((QUEUE_US, model), 0.0),
            completed=sums.get((SUCCESS, model), 0.0) + sums.get((FAILURE, model), 0.0),
            engine=None if active is None and waiting is None else (active or 0) + (waiting or 0),
        )
    return found


def fetch_metrics(url: str, timeout: float) -> dict[str, Counters]:
    """GET a Triton metrics endpoint and parse it."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_prometheus(response.read().decode("utf-8", errors="replace"))


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
