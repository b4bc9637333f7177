"""What the manifests of a deployment are made of, resolved once from the deploy file (pure).

Each SLA class runs as its own set of pods serving only its models: with `layout: per-profile`
the class's repository `<repository>/<class>`, with `layout: single` the one repository with
only the class's five models loaded (`--model-control-mode=explicit`). The server command is the
one `tritonsla serve` runs (`tritonsla.server.command`): tritonserver, or mpirun with one rank
per GPU when tp x pp > 1. Rules (`tritonsla.k8s.rules`) run first; this module assumes a deploy
file that passed them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tritonsla.contract import MODEL_ROLES, model_name
from tritonsla.k8s.metrics import server_families
from tritonsla.k8s.signals import default_signal
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import EngineKind, Kubernetes, Profile
from tritonsla.server.command import Parallelism, ServerOptions, server_argv

ADMIN_KEY_ENV = "TRITONSLA_ADMIN_KEY"
"""Env var (from a Secret) holding the admin key; Kubernetes expands `$(VAR)` in args."""
GATEWAY_PORT = 9000
DRAIN_MARGIN_S = 15
"""Seconds of termination grace beyond the longest request a class lets run."""
PRESTOP_S = 5
"""A stopping pod keeps serving this long while endpoints stop sending it new requests."""


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


@dataclass(frozen=True)
class ClassSpec:
    """One SLA class's pods, Service, budget and autoscaler."""

    sla: str
    name: str
    labels: dict[str, str]
    profile: Profile
    gpus: int
    """GPUs one replica needs (tp x pp; 0 on CPU)."""
    group_size: int
    """Pods per replica: 1, or the nodes a multi-node replica spans (LeaderWorkerSet)."""
    min_replicas: int
    max_replicas: int
    signal: str
    target: float
    drain_s: int
    argv: tuple[str, ...]

    @property
    def multi_node(self) -> bool:
        return self.group_size > 1

    @property
    def gpus_per_pod(self) -> int:
        return self.gpus // self.group_size

    @property
    def service(self) -> str:
        """The headless Service, also the DNS name replicas are discovered by."""
        return self.name


@dataclass(frozen=True)
class ClusterSpec:
    """Everything the manifests of one deploy file are built from."""

    deploy: str
    name: str
    namespace: str
    kube: Kubernetes
    engine_kind: EngineKind
    ports: Ports
    classes: tuple[ClassSpec, ...]
    deploy_file: str

    @property
    def common_labels(self) -> dict[str, str]:
        return common_labels(self.name)

    @property
    def gateway_name(self) -> str:
        return f"{self.name}-gateway"

    @property
    def gateway_labels(self) -> dict[str, str]:
        return {**self.common_labels, "app.kubernetes.io/component": "gateway"}

    def dns(self, cls: ClassSpec) -> str:
        """The class's headless Service as a replica the SDK and gateway resolve."""
        host = f"{cls.service}.{self.namespace}.svc.cluster.local"
        return f"{cls.sla}=dns:///{host}:{self.ports.grpc}"


def common_labels(name: str) -> dict[str, str]:
    """Labels of every object of the deployment `name` (Kubernetes' recommended labels)."""
    return {
        "app.kubernetes.io/name": "tritonsla",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": "triton-sla",
    }


def k8s_name(*parts: str) -> str:
    """A DNS-1123 name from deploy and class names (`_` is not allowed there)."""
    return "-".join(parts).replace("_", "-")


def node_gpus(dep: Deployment, kube: Kubernetes) -> int:
    """GPUs of one node: the kubernetes block's, else the deploy file's machine."""
    return kube.node_gpus if kube.node_gpus is not None else dep.deploy.hardware.gpus


def replica_gpus(dep: Deployment) -> int:
    """GPUs one replica of any class needs: tp x pp on GPU engine kinds, 0 on CPU."""
    hw = dep.deploy.hardware
    return 0 if dep.deploy.engine_kind == "cpu" else hw.tensor_parallel * hw.pipeline_parallel


def drain_seconds(profile: Profile) -> int:
    """Termination grace: the longest a request of the class may run, plus a margin."""
    slo = profile.slo
    longest_ms = slo.e2e_ms or profile.queue.default_timeout_us / 1000 or 30_000
    return math.ceil(longest_ms / 1000) + DRAIN_MARGIN_S + PRESTOP_S


def class_argv(dep: Deployment, kube: Kubernetes, sla: str, drain_s: int) -> tuple[str, ...]:
    """The server command of one class's pod, as `serve` builds it."""
    server = dep.deploy.server
    per_profile = dep.deploy.layout == "per-profile"
    repo = Path(kube.repository) / sla if per_profile else Path(kube.repository)
    models = () if per_profile else tuple(model_name(sla, role) for role in MODEL_ROLES)
    options = ServerOptions(
        model_repository=repo,  # a path inside the pod
        http_port=server.http_port,
        grpc_port=server.grpc_port,
        metrics_port=server.metrics_port,
        address="0.0.0.0",
        model_control_mode="explicit" if models else "none",
        load_models=models,
        admin_key=f"$({ADMIN_KEY_ENV})",
    )
    hw = dep.deploy.hardware
    parallelism = Parallelism(
        hw.tensor_parallel, hw.pipeline_parallel, (model_name(sla, "tensorrt_llm"),)
    )
    argv = server_argv(options, executable="tritonserver", parallelism=parallelism)
    if parallelism.world_size == 1:  # tritonserver waits this long for requests in flight
        argv.append(f"--exit-timeout-secs={drain_s - PRESTOP_S}")
    return tuple(argv)


def cluster_spec(dep: Deployment, bounds: dict[str, tuple[int, int]] | None = None) -> ClusterSpec:
    """Resolve the deploy file's kubernetes block; `bounds` (class -> min, max) from a plan
    replace the deploy file's replica bounds."""
    kube = dep.deploy.kubernetes
    assert kube is not None, "rules run first: a deploy file without `kubernetes` is refused"
    name = k8s_name(dep.deploy.name)
    gpus = replica_gpus(dep)
    per_node = node_gpus(dep, kube)
    group = math.ceil(gpus / per_node) if gpus and per_node and gpus > per_node else 1
    server = dep.deploy.server
    exported = server_families(dep.deploy.engine_kind)
    classes = []
    for sla, profile in dep.profiles.items():
        scaling = kube.scaling.get(sla)
        signal, target = default_signal(profile, exported)
        low, high = (scaling.min_replicas, scaling.max_replicas) if scaling else (1, 1)
        if bounds and sla in bounds:
            low, high = bounds[sla]
        if scaling is not None and scaling.metric is not None:
            signal = scaling.metric
        if scaling is not None and scaling.target is not None:
            target = scaling.target
        drain = drain_seconds(profile)
        classes.append(
            ClassSpec(
                sla=sla,
                name=k8s_name(dep.deploy.name, sla),
                labels={
                    **common_labels(name),
                    "app.kubernetes.io/component": "server",
                    "tritonsla.io/sla": sla,
                },
                profile=profile,
                gpus=gpus,
                group_size=group,
                min_replicas=low,
                max_replicas=high,
                signal=signal,
                target=target,
                drain_s=drain,
                argv=class_argv(dep, kube, sla, drain),
            )
        )
    return ClusterSpec(
        deploy=dep.deploy.name,
        name=name,
        namespace=kube.namespace,
        kube=kube,
        engine_kind=dep.deploy.engine_kind,
        ports=Ports(server.http_port, server.grpc_port, server.metrics_port),
        classes=tuple(classes),
        deploy_file=dep.deploy_file.name,
    )
