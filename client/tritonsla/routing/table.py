"""The endpoint table: SLA class -> model and replicas, read from a Deployment (pure).

Nothing is copied: each Endpoint keeps a reference to its merged Profile, so its SLO, queue
policy and batch size are the ones the rendered Triton configs were made from. Replicas are
`deploy.server` (host:grpc_port, with its metrics URL) first, then `deploy.server.replicas`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from tritonsla.contract import MODEL_ROLES, model_name
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile, Queue, Slo
from tritonsla.routing.errors import UnknownEndpointError
from tritonsla.server.ports import Endpoints

Target = Literal["bls", "ensemble"]
"""Which model of a class requests go to: the BLS model (priorities work) or the ensemble."""

TARGET_ROLES: dict[str, str] = {"bls": "tensorrt_llm_bls", "ensemble": "ensemble"}


@dataclass(frozen=True)
class Replica:
    """One server: its gRPC address (`host:port`) and, when known, its metrics URL."""

    address: str
    metrics_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> Replica:
        """`host:port` (IPv6 as `[::1]:8001`) -> Replica; raises ValueError when malformed."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"replica {text!r} is not host:grpc_port, e.g. 10.0.0.5:8001")
        return cls(f"{host}:{int(port)}")


@dataclass(frozen=True)
class Endpoint:
    """One SLA class as the client sees it: the model to call and the servers that serve it."""

    sla: str
    model: str
    replicas: tuple[Replica, ...]
    profile: Profile

    @property
    def slo(self) -> Slo:
        return self.profile.slo

    @property
    def queue(self) -> Queue:
        return self.profile.queue

    @property
    def max_batch_size(self) -> int:
        return self.profile.batching.max_batch_size

    @property
    def pipeline_models(self) -> tuple[str, ...]:
        """Every Triton model of the class: their queues make up the endpoint's load."""
        return tuple(model_name(self.sla, role) for role in MODEL_ROLES)

    def replica(self, address: str) -> Replica:
        """The replica at `address`, or an ad-hoc one (an override such as `--url`)."""
        return next((r for r in self.replicas if r.address == address), Replica(address))


@dataclass(frozen=True)
class EndpointTable:
    """Endpoints by SLA class (deploy file order) and by model name (both targets)."""

    endpoints: Mapping[str, Endpoint]
    models: Mapping[str, Endpoint]
    deployment: Deployment

    @classmethod
    def from_deployment(
        cls,
        deployment: Deployment,
        *,
        target: Target = "bls",
        replicas: Sequence[Replica | str] | None = None,
    ) -> EndpointTable:
        """Build the table; `replicas` replaces the deploy file's servers (e.g. in tests)."""
        if target not in TARGET_ROLES:
            raise UnknownEndpointError("target", target, list(TARGET_ROLES))
        servers = (
            tuple(r if isinstance(r, Replica) else Replica.parse(r) for r in replicas)
            if replicas is not None
            else deploy_replicas(deployment)
        )
        if not servers:
            raise ValueError("the endpoint table needs at least one replica")
        endpoints: dict[str, Endpoint] = {}
        models: dict[str, Endpoint] = {}
        for sla, profile in deployment.profiles.items():
            for kind, role in TARGET_ROLES.items():
                endpoint = Endpoint(sla, model_name(sla, role), servers, profile)
                models[endpoint.model] = endpoint
                if kind == target:
                    endpoints[sla] = endpoint
        return cls(endpoints, models, deployment)

    def endpoint(self, sla: str) -> Endpoint:
        """The endpoint of SLA class `sla`."""
        found = self.endpoints.get(sla)
        if found is None:
            raise UnknownEndpointError("SLA class", sla, list(self.endpoints))
        return found

    def for_model(self, model: str, address: str | None = None) -> Endpoint:
        """The endpoint serving Triton model `model`, pinned to `address` when given."""
        found = self.models.get(model)
        if found is None:
            raise UnknownEndpointError("model", model, list(self.models))
        return found if address is None else replace(found, replicas=(found.replica(address),))


def deploy_replicas(deployment: Deployment) -> tuple[Replica, ...]:
    """`deploy.server` (with its metrics URL) followed by `deploy.server.replicas`."""
    server = deployment.deploy.server
    main = Endpoints(server.host, server.http_port, server.grpc_port, server.metrics_port)
    extra = tuple(Replica.parse(text) for text in server.replicas)
    return (Replica(main.grpc_address, main.metrics_url), *extra)
