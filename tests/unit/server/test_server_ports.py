"""Free-port picking and busy-port detection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tritonsla.errors import ServerError
from tritonsla.server.ports import (
    Endpoints,
    busy_ports,
    ensure_ports_free,
    free_ports,
    port_in_use,
)


@pytest.fixture
def listening() -> Iterator[int]:
    """A port with a listening socket on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert busy_ports(ports) == []


def test_listening_port_is_busy(listening: int) -> None:
    assert port_in_use(listening)
    assert busy_ports([free_ports(1)[0], listening]) == [listening]


def test_busy_port_is_named_with_what_to_do(listening: int) -> None:
    http, metrics = free_ports(2)
    endpoints = Endpoints("127.0.0.1", http, listening, metrics)
    message = rf"already in use on 127\.0\.0\.1: {listening} \(gRPC\).*`tritonsla stop`"
    with pytest.raises(ServerError, match=message):
        ensure_ports_free(endpoints)


def test_wildcard_address_sees_a_loopback_listener(listening: int) -> None:
    assert port_in_use(listening, "0.0.0.0")


def test_equal_ports_refused() -> None:
    (port,) = free_ports(1)
    with pytest.raises(ServerError, match=r"ports must differ"):
        ensure_ports_free(Endpoints("127.0.0.1", port, port, port + 1))


def test_port_zero_is_accepted() -> None:
    ensure_ports_free(Endpoints("127.0.0.1", 0, 0, 0))


def test_client_hosts() -> None:
    assert Endpoints("0.0.0.0", 1, 2, 3).http_url == "http://127.0.0.1:1"
    assert Endpoints("::", 1, 2, 3).grpc_address == "[::1]:2"
    assert Endpoints("10.0.0.5", 1, 2, 3).metrics_url == "http://10.0.0.5:3/metrics"
