"""Replica sources: class prefixes and DNS names, resolved through a resolver seam; the monitor
re-resolves them, so new addresses join and vanished ones leave their classes' rotation."""

from __future__ import annotations

import socket

import pytest

from tritonsla.profiles.loading import Deployment
from tritonsla.routing.discovery import (
    Discovery,
    ReplicaSource,
    grpc_address,
    is_source,
    system_resolver,
)
from tritonsla.routing.errors import UnknownEndpointError
from tritonsla.routing.monitor import Monitor
from tritonsla.routing.router import Router
from tritonsla.routing.table import EndpointTable


class FakeDns:
    """A resolver whose answers the test changes; names it does not know fail like DNS."""

    def __init__(self, **names: list[str]) -> None:
        self.names = names
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.names[host]


@pytest.mark.parametrize(
    "text,classes,host,port,dynamic",
    [
        ("10.0.0.5:8001", (), "10.0.0.5", 8001, False),
        ("dns:///triton.llm.svc:8001", (), "triton.llm.svc", 8001, True),
        ("realtime=dns:///rt.llm.svc:8001", ("realtime",), "rt.llm.svc", 8001, True),
        ("realtime,batch=[::1]:9001", ("realtime", "batch"), "[::1]", 9001, False),
    ],
)
def test_parse(text: str, classes: tuple, host: str, port: int, dynamic: bool) -> None:
    source = ReplicaSource.parse(text)
    assert (source.classes, source.host, source.port, source.dynamic) == (
        classes,
        host,
        port,
        dynamic,
    )


@pytest.mark.parametrize("text", ["dns:///name", "realtime=", "=host:1", "dns:///:8001", "h:0"])
def test_parse_refuses_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="replica"):
        ReplicaSource.parse(text)


def test_only_prefixed_or_dns_replicas_are_sources() -> None:
    assert is_source("dns:///a:1") and is_source("batch=a:1")
    assert not is_source("127.0.0.1:8001")


def test_system_resolver_resolves_loopback() -> None:
    assert "127.0.0.1" in system_resolver("localhost", 8001) or "::1" in system_resolver(
        "localhost", 8001
    )
    assert grpc_address("::1", 8001) == "[::1]:8001"


def test_table_assigns_each_class_its_resolved_replicas(deployment: Deployment) -> None:
    dns = FakeDns(rt=["10.0.0.1", "10.0.0.2"], rest=["10.0.1.1"])
    table = EndpointTable.from_deployment(
        deployment,
        replicas=["realtime=dns:///rt:8001", "interactive,batch=dns:///rest:8001"],
        resolver=dns,
    )
    addresses = {sla: [r.address for r in e.replicas] for sla, e in table.endpoints.items()}
    assert addresses == {
        "realtime": ["10.0.0.1:8001", "10.0.0.2:8001"],
        "interactive": ["10.0.1.1:8001"],
        "batch": ["10.0.1.1:8001"],
    }
    assert table.for_model("realtime_ensemble").replicas == table.endpoint("realtime").replicas


def test_a_class_without_replicas_or_an_unknown_class_is_refused(deployment: Deployment) -> None:
    dns = FakeDns(rt=["10.0.0.1"])
    with pytest.raises(ValueError, match="no replica serves SLA class 'interactive'"):
        EndpointTable.from_deployment(
            deployment, replicas=["realtime,batch=dns:///rt:8001"], resolver=dns
        )
    with pytest.raises(UnknownEndpointError, match="realtme"):
        EndpointTable.from_deployment(
            deployment, replicas=["realtme=dns:///rt:8001", "dns:///rt:8001"], resolver=dns
        )


def test_monitor_rediscovers_joins_drains_and_forgets(deployment: Deployment) -> None:
    dns = FakeDns(rt=["10.0.0.1"])
    table = EndpointTable.from_deployment(
        deployment, replicas=["dns:///rt:8001"], resolver=dns, refresh_s=5.0
    )
    router = Router(table)
    gone: list[str] = []
    monitor = Monitor(router, interval=1.0, on_gone=gone.append)
    realtime_before = table.endpoint("realtime")
    assert table.discovery is not None and table.discovery.due(0.0)

    dns.names["rt"] = ["10.0.0.1", "10.0.0.2"]
    monitor.rediscover(0.0)
    assert [r.address for r in table.endpoint("batch").replicas] == [
        "10.0.0.1:8001",
        "10.0.0.2:8001",
    ]
    assert not table.discovery.due(4.9) and table.discovery.due(5.0)
    # an Endpoint already handed to a request is a snapshot: it keeps its replicas
    assert [r.address for r in realtime_before.replicas] == ["10.0.0.1:8001"]

    router.health.mark_down("10.0.0.1:8001", 0.0)
    dns.names["rt"] = ["10.0.0.2"]
    monitor.rediscover(5.0)
    assert [r.address for r in table.endpoint("interactive").replicas] == ["10.0.0.2:8001"]
    assert router.health.held_out() == []  # the vanished replica is no longer probed
    assert [r.address for r in monitor.replicas] == ["10.0.0.2:8001"]
    assert gone == ["10.0.0.1:8001"]  # told once, so a client can close its connection


def test_a_failed_lookup_keeps_the_last_addresses(deployment: Deployment) -> None:
    dns = FakeDns(rt=["10.0.0.1"])
    table = EndpointTable.from_deployment(deployment, replicas=["dns:///rt:8001"], resolver=dns)
    monitor = Monitor(Router(table))
    del dns.names["rt"]
    monitor.rediscover(0.0)
    assert [r.address for r in table.endpoint("realtime").replicas] == ["10.0.0.1:8001"]


def test_fixed_replicas_have_no_discovery(deployment: Deployment) -> None:
    table = EndpointTable.from_deployment(deployment, replicas=["127.0.0.1:8001"])
    assert table.discovery is None
    fixed = Discovery((ReplicaSource.parse("batch=127.0.0.1:8001"),))
    assert not fixed.due(0.0)  # nothing to re-resolve
