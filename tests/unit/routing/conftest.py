"""Fixtures of the routing unit tests: the shipped CPU deployment and a scripted load view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.table import Endpoint, EndpointTable, Replica

ROOT = Path(__file__).resolve().parents[3]
CPU_DEPLOY = ROOT / "deploy" / "cpu.yaml"


@pytest.fixture(scope="session")
def cpu_deploy() -> Path:
    return CPU_DEPLOY


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return load_deployment(CPU_DEPLOY)


@pytest.fixture
def table(deployment: Deployment) -> EndpointTable:
    """cpu.yaml's classes on two replicas."""
    return EndpointTable.from_deployment(deployment, replicas=["10.0.0.1:8001", "10.0.0.2:8001"])


@dataclass
class ScriptedView:
    """A LoadView whose figures the test sets: per-class queue and typical latency."""

    queue: dict[str, float] = field(default_factory=dict)
    service: dict[str, float] = field(default_factory=dict)
    ahead_by_class: dict[str, float] = field(default_factory=dict)
    full: set[str] = field(default_factory=set)
    """Classes none of whose replicas can be used."""

    def pick(self, endpoint: Endpoint, exclude: frozenset[str]) -> Replica | None:
        if endpoint.sla in self.full:
            return None
        usable = [r for r in endpoint.replicas if r.address not in exclude]
        return usable[0] if usable else None

    def ahead(self, endpoint: Endpoint, replica: Replica) -> float:
        return self.ahead_by_class.get(endpoint.sla, 0.0)

    def queue_ms(self, endpoint: Endpoint, replica: Replica) -> float:
        return self.queue.get(endpoint.sla, 0.0)

    def service_ms(self, endpoint: Endpoint, max_tokens: int) -> float | None:
        per_token = self.service.get(endpoint.sla)
        return None if per_token is None else per_token * max_tokens


@pytest.fixture
def view() -> ScriptedView:
    return ScriptedView()
