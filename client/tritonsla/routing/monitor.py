"""Background upkeep of the router: poll each replica's load, probe down replicas.

`Monitor.tick` does one round and never runs a replica's poll more often than `interval`; the
sync client runs it in a daemon thread (`MonitorThread`), the async one in a task
(`run_monitor`, ticks in a worker thread). Nothing here runs per request.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Callable

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from tritonsla.routing.health import PROBE_TIMEOUT_S, probe_ready
from tritonsla.routing.load import Counters, fetch_metrics, statistics_counters
from tritonsla.routing.router import Router
from tritonsla.routing.table import Replica

DEFAULT_INTERVAL_S = 0.25


class Monitor:
    """Polls replica load at a bounded rate and probes down replicas when their backoff ends."""

    def __init__(
        self,
        router: Router,
        interval: float = DEFAULT_INTERVAL_S,
        on_gone: Callable[[str], None] | None = None,
    ) -> None:
        """`on_gone(address)` is told of each replica that discovery dropped (from this
        monitor's thread), so a client can close what it holds for it."""
        if interval <= 0:
            raise ValueError(f"`interval` must be > 0 seconds; got {interval}")
        self.router = router
        self.interval = interval
        self.on_gone = on_gone
        self._polled: dict[str, float] = {}
        self._stats_clients: dict[str, grpcclient.InferenceServerClient] = {}

    @property
    def replicas(self) -> tuple[Replica, ...]:
        """Every replica of the table now (discovery may change them)."""
        endpoints = self.router.table.endpoints.values()
        return tuple({r.address: r for e in endpoints for r in e.replicas}.values())

    def tick(self, now: float) -> None:
        """Re-resolve replica names when due, probe the down replicas that are due, then poll
        the up ones that are due."""
        discovery = self.router.table.discovery
        if discovery is not None and discovery.due(now):
            self.rediscover(now)
        health = self.router.health
        for address in health.due(now):
            if probe_ready(address, PROBE_TIMEOUT_S):
                health.mark_up(address)
            else:
                health.mark_down(address, time.monotonic())
        for replica in self.replicas:
            last = self._polled.get(replica.address)
            if not health.is_up(replica.address) or (
                last is not None and now - last < self.interval
            ):
                continue
            self._polled[replica.address] = now
            counters = self._poll(replica)
            if counters is not None:
                endpoints = self.router.table.endpoints.values()
                self.router.load.record(replica, endpoints, counters, now)

    def rediscover(self, now: float) -> None:
        """Resolve the table's names again: new addresses join their classes, vanished ones
        leave (no new requests; those under way finish) and are forgotten."""
        table = self.router.table
        discovery = table.discovery
        assert discovery is not None
        before = {r.address: r for r in self.replicas}
        discovery.resolve()
        discovery.next_at = now + discovery.refresh_s
        for sla, addresses in discovery.assignments(list(table.endpoints)).items():
            if tuple(r.address for r in table.endpoints[sla].replicas) != addresses:
                replicas = tuple(before.get(a) or Replica(a) for a in addresses)
                table.set_replicas(sla, replicas)
        for gone in before.keys() - {r.address for r in self.replicas}:
            self.router.health.forget(gone)
            self._polled.pop(gone, None)
            client = self._stats_clients.pop(gone, None)
            if client is not None:
                client.close()
            if self.on_gone is not None:
                self.on_gone(gone)

    def _poll(self, replica: Replica) -> dict[str, Counters] | None:
        """The replica's counters from its metrics URL, else the statistics API; None on error."""
        try:
            if replica.metrics_url is not None:
                return fetch_metrics(replica.metrics_url, PROBE_TIMEOUT_S)
            client = self._stats_clients.get(replica.address)
            if client is None:
                client = grpcclient.InferenceServerClient(replica.address)
                self._stats_clients[replica.address] = client
            stats = client.get_inference_statistics(as_json=True, client_timeout=PROBE_TIMEOUT_S)
            return statistics_counters(stats)
        except (OSError, http.client.HTTPException, InferenceServerException):
            return None  # health is judged by requests and probes, not by metrics

    def close(self) -> None:
        for client in self._stats_clients.values():
            client.close()
        self._stats_clients.clear()


class MonitorThread:
    """Runs a Monitor every `interval` in a daemon thread until `close`."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tritonsla-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.monitor.tick(time.monotonic())
            if self._stop.wait(self.monitor.interval):
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.monitor.close()


async def run_monitor(monitor: Monitor) -> None:
    """Run a Monitor every `interval` until cancelled (ticks run in a worker thread)."""
    try:
        while True:
            await asyncio.to_thread(monitor.tick, time.monotonic())
            await asyncio.sleep(monitor.interval)
    finally:
        monitor.close()
