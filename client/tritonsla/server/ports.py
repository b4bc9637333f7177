"""Addresses and ports of a server: endpoint URLs, free-port picking, busy-port detection."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass

from tritonsla.errors import ServerError

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class Endpoints:
    """The address a server binds and its three ports."""

    address: str
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def client_host(self) -> str:
        """Host a local client connects to (loopback when the server binds every interface)."""
        host = _WILDCARDS.get(self.address, self.address)
        return f"[{host}]" if ":" in host else host

    @property
    def http_address(self) -> str:
        """`host:port` of HTTP, as tritonclient.http takes it."""
        return f"{self.client_host}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def grpc_address(self) -> str:
        """`host:port` of gRPC, as tritonclient.grpc takes it."""
        return f"{self.client_host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.client_host}:{self.metrics_port}/metrics"

    @property
    def ports(self) -> tuple[int, int, int]:
        return (self.http_port, self.grpc_port, self.metrics_port)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports free on `host` right now (held together while picking)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(_family(host), socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on `host:port` (a TIME_WAIT leftover does not count)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def busy_ports(ports: Iterable[int], host: str = "127.0.0.1") -> list[int]:
    """The ports of `ports` already bound on `host`, in order."""
    return [port for port in ports if port_in_use(port, host)]


def ensure_ports_free(endpoints: Endpoints) -> None:
    """Raise ServerError naming every port of `endpoints` that is already bound."""
    fixed = [port for port in endpoints.ports if port]
    if len(set(fixed)) != len(fixed):
        raise ServerError(
            f"HTTP, gRPC and metrics ports must differ; got {endpoints.ports}. Pick other ports"
        )
    busy = busy_ports(endpoints.ports, endpoints.address)
    if busy:
        names = dict(zip(endpoints.ports, ("HTTP", "gRPC", "metrics"), strict=True))
        listed = ", ".join(f"{port} ({names[port]})" for port in busy)
        raise ServerError(
            f"port(s) already in use on {endpoints.address}: {listed}. Another tritonserver may "
            "be running: stop it with `tritonsla stop`, or choose other ports"
        )
