"""Typed models of the custom resources the manifests use, with their documented fields only
(unknown keys are errors), so a typo cannot pass where no Kubernetes schema is bundled.

- ServiceMonitor, monitoring.coreos.com/v1 (prometheus-operator API reference): `selector`,
  `namespaceSelector` (`any` | `matchNames`), `endpoints[]` (`port`, `path`, `interval`, ...).
- LeaderWorkerSet, leaderworkerset.x-k8s.io/v1 (kubernetes-sigs/lws
  api/leaderworkerset/v1/leaderworkerset_types.go, v0.10): `replicas`, `startupPolicy`
  (LeaderCreated | LeaderReady), `leaderWorkerTemplate` (`size`, `restartPolicy`,
  `leaderTemplate`, `workerTemplate`; pod templates checked on the core PodTemplateSpec schema).
- InferencePool, inference.networking.k8s.io/v1 (kubernetes-sigs/gateway-api-inference-extension
  api/v1/inferencepool_types.go at v1.6.0): `selector.matchLabels`, `targetPorts[].number`
  (1 to 8), `appProtocol`, `endpointPickerRef` (`group`, `kind`, `name`, `port.number`,
  `failureMode`).
- InferenceObjective, inference.networking.x-k8s.io/v1alpha2 (same repository,
  apix/v1alpha2/inferenceobjective_types.go at v1.5.0, the last release that carries it; it left
  the repository in June 2026, PR #2973): `priority` (higher first), `poolRef` (`group`, `kind`,
  `name`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Metadata(Model):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    namespace: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LabelSelector(Model):
    matchLabels: dict[str, str] = Field(min_length=1)


class NamespaceSelector(Model):
    any: bool | None = None
    matchNames: list[str] | None = None


class MonitorEndpoint(Model):
    port: str
    path: str = "/metrics"
    interval: str | None = Field(None, pattern=r"^(\d+(ms|s|m|h))+$")
    scheme: Literal["http", "https"] | None = None


class ServiceMonitorSpec(Model):
    selector: LabelSelector
    namespaceSelector: NamespaceSelector | None = None
    endpoints: list[MonitorEndpoint] = Field(min_length=1)
    jobLabel: str | None = None


class ServiceMonitor(Model):
    apiVersion: Literal["monitoring.coreos.com/v1"]
    kind: Literal["ServiceMonitor"]
    metadata: Metadata
    spec: ServiceMonitorSpec


class LeaderWorkerTemplate(Model):
    size: int = Field(ge=1)
    restartPolicy: Literal[
        "Default", "RecreateGroupOnPodRestart", "RecreateGroupAfterStart", "None"
    ]
    leaderTemplate: dict[str, Any] | None = None
    workerTemplate: dict[str, Any]


class LeaderWorkerSetSpec(Model):
    replicas: int = Field(ge=0)
    startupPolicy: Literal["LeaderCreated", "LeaderReady"]
    leaderWorkerTemplate: LeaderWorkerTemplate


class LeaderWorkerSet(Model):
    apiVersion: Literal["leaderworkerset.x-k8s.io/v1"]
    kind: Literal["LeaderWorkerSet"]
    metadata: Metadata
    spec: LeaderWorkerSetSpec


class PortNumber(Model):
    number: int = Field(ge=1, le=65535)


class EndpointPickerRef(Model):
    group: str | None = None
    kind: str = "Service"
    name: str
    port: PortNumber | None = None
    failureMode: Literal["FailOpen", "FailClose"] = "FailClose"


class InferencePoolSpec(Model):
    selector: LabelSelector
    targetPorts: list[PortNumber] = Field(min_length=1, max_length=8)
    appProtocol: str | None = None
    endpointPickerRef: EndpointPickerRef | None = None


class InferencePool(Model):
    apiVersion: Literal["inference.networking.k8s.io/v1"]
    kind: Literal["InferencePool"]
    metadata: Metadata
    spec: InferencePoolSpec


class PoolRef(Model):
    group: str = "inference.networking.k8s.io"
    kind: str = "InferencePool"
    name: str


class InferenceObjectiveSpec(Model):
    priority: int | None = None
    poolRef: PoolRef


class InferenceObjective(Model):
    apiVersion: Literal["inference.networking.x-k8s.io/v1alpha2"]
    kind: Literal["InferenceObjective"]
    metadata: Metadata
    spec: InferenceObjectiveSpec


CUSTOM_KINDS: dict[str, type[Model]] = {
    "ServiceMonitor": ServiceMonitor,
    "LeaderWorkerSet": LeaderWorkerSet,
    "InferencePool": InferencePool,
    "InferenceObjective": InferenceObjective,
}
"""Kinds outside Kubernetes' own schemas, and their models."""
