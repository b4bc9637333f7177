"""The endpoint table: SLA class -> model and replicas, read from a Deployment (pure).

Nothing is copied: each Endpoint keeps a reference to its merged Profile, so its SLO, queue
policy and batch size are the ones the rendered Triton configs were made from. Replicas are
`deploy.server` (host:grpc_port, with its metrics URL) first, then `deploy.server.replicas`.
Replicas given instead may be limited to classes or be DNS names (`tritonsla.routing.discovery`);
the table then keeps its `discovery`, and the monitor changes a class's replicas as names
resolve anew (`set_replicas`): each Endpoint stays an immutable snapshot.
An endpoint whose model serves the ensemble/BLS contract names its engine model
(`<profile>_tensorrt_llm`): the client asks it for exact token counts and can stop requests there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from tritonsla.contract import MODEL_ROLES, model_name
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile, Queue, Slo
from tritonsla.profiles.topology import engine_model_of, engine_priority_level
from tritonsla.routing.discovery import (
    DEFAULT_REFRESH_S,
    Discovery,
    ReplicaSource,
    Resolver,
    is_source,
    system_resolver,
)
from tritonsla.routing.errors import UnknownEndpointError
from tritonsla.server.ports import Endpoints

Target = Literal["bls", "ensemble"]
"""Which model of a class requests go to. Both pass the request id and timeout on; the ensemble
passes Triton's priority to every composing model (clamped to its levels), the BLS orders its own
queue by it (the Python backend cannot pass it to the engine). The BLS is the default: it turns a
client's cancellation into the engine's `stop`, which Triton 2.51 does not do for an ensemble."""

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
    engine_model: str | None = None
    """The engine behind a contract model (`<profile>_tensorrt_llm`, or the shared engine
    `tensorrt_llm`); None for other models."""
    engine_level: int = 0
    """The class's priority level on a shared engine (1 = highest); 0 when it has its own."""

    @property
    def contract(self) -> bool:
        """Whether the model serves the ensemble/BLS contract (output_log_probs, min_tokens)."""
        return self.engine_model is not None

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
        engine = self.engine_model or model_name(self.sla, "tensorrt_llm")
        return tuple(
            engine if role == "tensorrt_llm" else model_name(self.sla, role) for role in MODEL_ROLES
        )

    def replica(self, address: str) -> Replica:
        """The replica at `address`, or an ad-hoc one (an override such as `--url`)."""
        return next((r for r in self.replicas if r.address == address), Replica(address))


@dataclass(frozen=True)
class EndpointTable:
    """Endpoints by SLA class (deploy file order) and by model name (both targets)."""

    endpoints: Mapping[str, Endpoint]
    models: Mapping[str, Endpoint]
    deployment: Deployment
    discovery: Discovery | None = None
    """The replica sources, when classes have their own replicas or names are re-resolved."""

    @classmethod
    def from_deployment(
        cls,
        deployment: Deployment,
        *,
        target: Target = "bls",
        replicas: Sequence[Replica | str] | None = None,
        resolver: Resolver = system_resolver,
        refresh_s: float = DEFAULT_REFRESH_S,
    ) -> EndpointTable:
        """Build the table; `replicas` replaces the deploy file's servers (e.g. in tests).

        Replicas written `<class>=...` serve those classes only; `dns:///name:port` ones are
        resolved by `resolver` now and every `refresh_s` by the monitor."""
        if target not in TARGET_ROLES:
            raise UnknownEndpointError("target", target, list(TARGET_ROLES))
        discovery = None
        if replicas is not None and any(isinstance(r, str) and is_source(r) for r in replicas):
            discovery = _discovery(deployment, replicas, resolver, refresh_s)
            assigned = {
                sla: tuple(Replica(address) for address in addresses)
                for sla, addresses in discovery.assignments(list(deployment.profiles)).items()
            }
        else:
            servers = (
                tuple(r if isinstance(r, Replica) else Replica.parse(r) for r in replicas)
                if replicas is not None
                else deploy_replicas(deployment)
            )
            if not servers:
                raise ValueError("the endpoint table needs at least one replica")
            assigned = dict.fromkeys(deployment.profiles, servers)
        endpoints: dict[str, Endpoint] = {}
        models: dict[str, Endpoint] = {}
        for sla, profile in deployment.profiles.items():
            engine = engine_model_of(deployment, sla)
            level = engine_priority_level(deployment, sla)
            for kind, role in TARGET_ROLES.items():
                endpoint = Endpoint(
                    sla, model_name(sla, role), assigned[sla], profile, engine, level
                )
                models[endpoint.model] = endpoint
                if kind == target:
                    endpoints[sla] = endpoint
        return cls(endpoints, models, deployment, discovery)

    def set_replicas(self, sla: str, replicas: tuple[Replica, ...]) -> None:
        """Give class `sla` these replicas (discovery): its endpoints are replaced, for both
        targets, so requests routed from now on see them; requests under way keep theirs."""
        models = cast(dict[str, Endpoint], self.models)
        endpoints = cast(dict[str, Endpoint], self.endpoints)
        for model, endpoint in list(models.items()):
            if endpoint.sla == sla:
                models[model] = replace(endpoint, replicas=replicas)
        if sla in endpoints:
            endpoints[sla] = models[endpoints[sla].model]

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


def contract_engine(model: str) -> str | None:
    """The engine model behind `model` when its name is a contract model's (`<profile>_ensemble`,
    `<profile>_tensorrt_llm_bls`), e.g. a model rendered from another deploy file; else None."""
    for role in TARGET_ROLES.values():
        suffix = f"_{role}"
        if model.endswith(suffix) and len(model) > len(suffix):
            return model_name(model.removesuffix(suffix), "tensorrt_llm")
    return None


def deploy_replicas(deployment: Deployment) -> tuple[Replica, ...]:
    """`deploy.server` (with its metrics URL) followed by `deploy.server.replicas`."""
    server = deployment.deploy.server
    main = Endpoints(server.host, server.http_port, server.grpc_port, server.metrics_port)
    extra = tuple(Replica.parse(text) for text in server.replicas)
    return (Replica(main.grpc_address, main.metrics_url), *extra)


def _discovery(
    deployment: Deployment,
    replicas: Sequence[Replica | str],
    resolver: Resolver,
    refresh_s: float,
) -> Discovery:
    """Parse and resolve replica sources; every class needs one, every named class must exist."""
    sources = tuple(ReplicaSource.parse(r if isinstance(r, str) else r.address) for r in replicas)
    classes = list(deployment.profiles)
    for source in sources:
        for sla in source.classes:
            if sla not in deployment.profiles:
                raise UnknownEndpointError("SLA class", sla, classes)
    for sla in classes:
        if not any(source.serves(sla) for source in sources):
            raise ValueError(f"no replica serves SLA class {sla!r}; add `{sla}=host:port`")
    discovery = Discovery(sources, resolver, refresh_s)
    discovery.resolve()
    return discovery
