"""Replica discovery against real tritonservers: two servers on the same ports at 127.0.0.1 and
127.0.0.2 stand for a headless Service's pods. A resolver seam plays DNS (its answer changes as
pods come and go); the system resolver backs the production path. Also: every metric family
the Kubernetes manifests read of a CPU server is on a real server's /metrics.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import variant_deploy
from tritonsla.assets import write_default_model
from tritonsla.k8s.metrics import server_families
from tritonsla.profiles.loading import Deployment
from tritonsla.repo.pipeline import render
from tritonsla.routing import AsyncSlaClient, SlaClient
from tritonsla.routing.table import EndpointTable
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import free_ports, port_in_use
from tritonsla.server.process import TritonServer

from .conftest import ROOT

pytestmark = pytest.mark.integration

HOSTS = ("127.0.0.1", "127.0.0.2")
NAME = "realtime.tritonsla.test"
REFRESH_S = 0.2


@dataclass(frozen=True)
class Pods:
    deployment: Deployment
    ports: tuple[int, int, int]

    @property
    def grpc(self) -> int:
        return self.ports[1]


class Dns:
    """The resolver seam: what NAME resolves to now (pods come and go)."""

    def __init__(self, *ips: str) -> None:
        self.ips = list(ips)
        self.lock = threading.Lock()

    def set(self, *ips: str) -> None:
        with self.lock:
            self.ips = list(ips)

    def __call__(self, host: str, port: int) -> list[str]:
        assert host == NAME
        with self.lock:
            return list(self.ips)


def _free_on_both() -> tuple[int, int, int]:
    for _ in range(20):
        ports = free_ports(3)
        if not any(port_in_use(p, HOSTS[1]) for p in ports):
            return (ports[0], ports[1], ports[2])
    raise RuntimeError("no ports free on both loopback addresses")


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    """Two realtime-only servers, same ports, two loopback addresses."""
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    work = tmp_path_factory.mktemp("discovery")
    deploy = variant_deploy(work, ["realtime"])
    result = render(deploy, work / "repo")
    ports = _free_on_both()
    servers = [
        TritonServer(
            ServerOptions(
                model_repository=work / "repo",
                http_port=ports[0],
                grpc_port=ports[1],
                metrics_port=ports[2],
                address=host,
            ),
            log_file=work / f"tritonserver-{host}.log",
            startup_timeout=180,
        )
        for host in HOSTS
    ]
    try:
        for server in servers:  # from this thread: a child dies with the thread that started it
            server.start()
        yield Pods(result.deployment, ports)
    finally:
        for server in servers:
            server.stop()


def _replicas_of(client: SlaClient, count: int, max_tokens: int = 2) -> set[str]:
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: client.generate("Hello", sla="realtime", max_tokens=max_tokens),
                range(count),
            )
        )
    return {r.replica.rpartition(":")[0] for r in results}


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "discovery did not catch up"
        time.sleep(0.05)


def test_new_addresses_join_and_vanished_ones_drain(pods: Pods) -> None:
    dns = Dns(HOSTS[0])
    table = EndpointTable.from_deployment(
        pods.deployment,
        replicas=[f"realtime=dns:///{NAME}:{pods.grpc}"],
        resolver=dns,
        refresh_s=REFRESH_S,
    )
    with SlaClient(table, poll_interval=0.05) as client:
        assert _replicas_of(client, 4) == {HOSTS[0]}

        dns.set(*HOSTS)  # a second pod became ready
        _wait_for(lambda: len(table.endpoint("realtime").replicas) == 2)
        assert _replicas_of(client, 12) == set(HOSTS)

        # a long answer under way on one pod while that pod leaves the Service
        with client.stream("Tell me", sla="realtime", max_tokens=48) as stream:
            chunks = iter(stream)
            next(chunks)
            endpoint = table.endpoint("realtime")
            busy = next(r for r in endpoint.replicas if client.router.load.outstanding(r, endpoint))
            leaving = busy.address.rpartition(":")[0]
            staying = next(host for host in HOSTS if host != leaving)
            dns.set(staying)
            _wait_for(lambda: len(table.endpoint("realtime").replicas) == 1)
            new = _replicas_of(client, 6)
            rest = list(chunks)
        result = stream.result
        assert new == {staying}  # no new request went to the leaving pod
        assert result.replica == busy.address and rest  # the one under way finished (drained)
        assert len(result.chunks) == len(rest) + 1


def test_production_wiring_uses_the_system_resolver(pods: Pods) -> None:
    """`dns:///localhost:port` through the real resolver, on the async client the gateway uses."""

    async def ask() -> set[str]:
        async with AsyncSlaClient.from_deployment(
            pods.deployment, replicas=[f"dns:///localhost:{pods.grpc}"]
        ) as client:
            table = client.router.table
            assert table.discovery is not None
            assert any(
                r.address == f"127.0.0.1:{pods.grpc}" for r in table.endpoint("realtime").replicas
            )
            results = [await client.generate("Hi", sla="realtime", max_tokens=2) for _ in range(3)]
        return {r.replica for r in results}

    assert asyncio.run(ask()) == {f"127.0.0.1:{pods.grpc}"}


def test_manifest_metric_families_are_on_a_real_server(pods: Pods) -> None:
    url = f"http://{HOSTS[0]}:{pods.ports[2]}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    live = {family.name for family in text_string_to_metric_families(text)}
    live |= {f"{name}_total" for name in live}  # counters are listed without their suffix
    expected = server_families("cpu")
    assert expected - live == set(), f"exported by no CPU server: {sorted(expected - live)}"
