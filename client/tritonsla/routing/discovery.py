"""Replica discovery: a replica may be a DNS name, re-resolved on an interval.

A replica is written `[<class>[,<class>...]=]<target>`, where the target is `host:port` (one
server) or `dns:///<name>:<port>` (every address the name resolves to, as gRPC's `dns` resolver
reads it; a Kubernetes headless Service resolves to its ready pods). The class prefix limits the
replica to those SLA classes (one Deployment per class); without it the replica serves them all.

The endpoint table resolves names once when it is built; the monitor re-resolves them every
`refresh_s`. New addresses join their classes' rotation; vanished ones leave it, so they get no
new requests while those already sent finish (they drain). A name that fails to resolve keeps
its last addresses: a DNS hiccup does not empty a class. The resolver is a seam: the system's
(`socket.getaddrinfo`) unless one is passed in.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DNS_SCHEME = "dns:///"
DEFAULT_REFRESH_S = 5.0

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the IP addresses it resolves to now; raises OSError when it cannot."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6, TCP), sorted, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def grpc_address(ip: str, port: int) -> str:
    """`ip:port`, IPv6 in brackets, as gRPC takes it."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True)
class ReplicaSource:
    """One replica as written: its classes (empty = every class) and its target."""

    text: str
    classes: tuple[str, ...]
    host: str
    port: int
    dynamic: bool

    @classmethod
    def parse(cls, text: str) -> ReplicaSource:
        """Parse `[<class>,...=](host:port | dns:///name:port)`; ValueError when malformed."""
        prefix, sep, target = text.strip().rpartition("=")
        classes = tuple(c.strip() for c in prefix.split(",")) if sep else ()
        if sep and not all(classes):
            raise ValueError(f"replica {text!r}: empty class name before '='")
        dynamic = target.startswith(DNS_SCHEME)
        address = target.removeprefix(DNS_SCHEME)
        host, colon, port = address.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"replica {text!r} is not [class=]host:grpc_port or [class=]dns:///name:port, "
                "e.g. 10.0.0.5:8001 or realtime=dns:///realtime.llm.svc.cluster.local:8001"
            )
        return cls(text.strip(), classes, host, int(port), dynamic)

    def serves(self, sla: str) -> bool:
        return not self.classes or sla in self.classes

    def addresses(self, resolver: Resolver) -> list[str]:
        """Its gRPC addresses now (a fixed target is itself); OSError when a name fails."""
        if not self.dynamic:
            return [f"{self.host}:{self.port}"]
        return [grpc_address(ip, self.port) for ip in resolver(self.host, self.port)]


def is_source(text: str) -> bool:
    """Whether a replica string needs ReplicaSource (a class prefix or a DNS name)."""
    return "=" in text or text.strip().startswith(DNS_SCHEME)


@dataclass
class Discovery:
    """The replica sources of a table, their last addresses, and when to resolve them again."""

    sources: tuple[ReplicaSource, ...]
    resolver: Resolver = system_resolver
    refresh_s: float = DEFAULT_REFRESH_S
    resolved: dict[str, list[str]] = field(default_factory=dict)
    next_at: float = 0.0

    @property
    def dynamic(self) -> bool:
        return any(source.dynamic for source in self.sources)

    def resolve(self) -> None:
        """Resolve every source; one that fails keeps its previous addresses."""
        for source in self.sources:
            try:
                self.resolved[source.text] = source.addresses(self.resolver)
            except OSError:
                self.resolved.setdefault(source.text, [])

    def assignments(self, classes: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Addresses per class, in source order without duplicates."""
        found: dict[str, tuple[str, ...]] = {}
        for sla in classes:
            addresses: dict[str, None] = {}
            for source in self.sources:
                if source.serves(sla):
                    addresses.update(dict.fromkeys(self.resolved.get(source.text, [])))
            found[sla] = tuple(addresses)
        return found

    def due(self, now: float) -> bool:
        return self.dynamic and now >= self.next_at
