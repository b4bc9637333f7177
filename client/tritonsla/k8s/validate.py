"""Checks of rendered manifests (pure but for the bundled schemas it reads).

1. Schema: Kubernetes' own kinds against the OpenAPI schemas of KUBERNETES_VERSION bundled by
   kubernetes-validate (strict: unknown fields are errors); custom resources against the typed
   models of `tritonsla.k8s.models`, and a LeaderWorkerSet's pod templates as core
   PodTemplateSpecs.
2. References between objects: every selector selects the pods of one workload; Service target
   ports, ServiceMonitor ports and probe ports exist where they point; volume mounts name a pod
   volume; HPAs scale an object of the set on a metric an adapter rule exposes; adapter rules
   and dashboard queries read only series that an exporter provides; the gateway's replicas
   name headless Services on their gRPC port; InferenceObjectives name the pool.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from tritonsla.errors import TritonSlaError
from tritonsla.k8s.metrics import GATEWAY_SERIES, KUBE_STATE_FAMILIES, server_families
from tritonsla.k8s.models import CUSTOM_KINDS
from tritonsla.k8s.signals import SIGNALS
from tritonsla.k8s.spec import ClusterSpec

KUBERNETES_VERSION = "1.35"
"""Kubernetes version whose schemas the core objects are checked against."""

WORKLOAD_KINDS = ("Deployment", "LeaderWorkerSet")
_SERIES = re.compile(r"\b((?:nv|tritonsla|kube)_[a-z0-9_]+)\b")


@dataclass(frozen=True)
class Problem:
    """One finding: the file, the object (`Kind/name`), the field path and what is wrong."""

    file: str
    object: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.object}: `{self.field}`: {self.message}"


class ManifestError(TritonSlaError):
    """Rendered manifests failed their checks (a bug, or a hand-edited input)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"{len(problems)} manifest problem(s):\n{lines}")


def schemas_available() -> bool:
    """Whether kubernetes-validate (a dev dependency) is installed."""
    return importlib.util.find_spec("kubernetes_validate") is not None


def _ref(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def _core_schema(file: str, obj: dict, field: str = "") -> Iterator[Problem]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        yield Problem(file, _ref(obj), ".".join(x for x in (field, path) if x), error.message)
    except kubernetes_validate.SchemaNotFoundError as error:
        yield Problem(file, _ref(obj), "apiVersion", error.message)


def schema_problems(file: str, obj: dict) -> Iterator[Problem]:
    """Schema findings of one object (core kinds need kubernetes-validate installed)."""
    kind = obj.get("kind")
    model = CUSTOM_KINDS.get(kind)  # type: ignore[arg-type]
    if model is None:
        if schemas_available():
            yield from _core_schema(file, obj)
        return
    try:
        model.model_validate(obj)
    except ValidationError as error:
        for found in error.errors():
            field = ".".join(str(part) for part in found["loc"])
            yield Problem(file, _ref(obj), field, found["msg"])
    if kind == "LeaderWorkerSet" and schemas_available():
        templates = obj.get("spec", {}).get("leaderWorkerTemplate", {})
        for key in ("leaderTemplate", "workerTemplate"):
            if key in templates:
                wrapper = {
                    "apiVersion": "v1",
                    "kind": "PodTemplate",
                    "metadata": {"name": obj["metadata"]["name"]},
                    "template": templates[key],
                }
                for p in _core_schema(file, wrapper, f"spec.leaderWorkerTemplate.{key}"):
                    yield Problem(file, _ref(obj), p.field.replace(".template", "", 1), p.message)


def _pod_templates(obj: dict) -> list[tuple[str, dict]]:
    spec = obj.get("spec", {})
    if obj["kind"] == "Deployment":
        return [("spec.template", spec.get("template", {}))]
    lwt = spec.get("leaderWorkerTemplate", {})
    return [
        (f"spec.leaderWorkerTemplate.{key}", lwt[key])
        for key in ("leaderTemplate", "workerTemplate")
        if key in lwt
    ]


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@dataclass(frozen=True)
class _Index:
    """What the reference checks look objects up in."""

    pods: list[tuple[dict, str, dict]]
    """(workload, template path, pod template) of every workload."""
    services: dict[str, dict]
    names: set[tuple[str, str]]
    exposed: set[str]
    """Custom metric names the adapter rules expose."""

    def selected(self, selector: dict) -> list[tuple[dict, str, dict]]:
        return [p for p in self.pods if _selects(selector, p[2]["metadata"].get("labels", {}))]


def _index(objects: list[tuple[str, dict]]) -> _Index:
    workloads = [o for _, o in objects if o.get("kind") in WORKLOAD_KINDS]
    return _Index(
        pods=[(w, path, tpl) for w in workloads for path, tpl in _pod_templates(w)],
        services={o["metadata"]["name"]: o for _, o in objects if o.get("kind") == "Service"},
        names={(o.get("kind"), o["metadata"]["name"]) for _, o in objects},
        exposed={r["name"]["as"] for r in _adapter_rules(objects)},
    )


def _service(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    chosen = index.selected(obj["spec"].get("selector", {}))
    if not chosen:
        yield Problem(file, _ref(obj), "spec.selector", "selects no pod of any workload")
    for i, port in enumerate(obj["spec"].get("ports", [])):
        for workload, path, template in chosen:
            if port.get("targetPort") not in _port_names(template):
                yield Problem(
                    file,
                    _ref(obj),
                    f"spec.ports[{i}].targetPort",
                    f"{port.get('targetPort')!r} is no container port of {_ref(workload)} ({path})",
                )


def _budget(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    if not index.selected(obj["spec"].get("selector", {}).get("matchLabels", {})):
        yield Problem(file, _ref(obj), "spec.selector", "selects no pod of any workload")


def _monitor(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    selector = obj["spec"].get("selector", {}).get("matchLabels", {})
    chosen = [s for s in index.services.values() if _selects(selector, s["metadata"]["labels"])]
    if not chosen:
        yield Problem(file, _ref(obj), "spec.selector", "selects no Service")
    for i, endpoint in enumerate(obj["spec"].get("endpoints", [])):
        for service in chosen:
            if endpoint.get("port") not in {p.get("name") for p in service["spec"]["ports"]}:
                yield Problem(
                    file,
                    _ref(obj),
                    f"spec.endpoints[{i}].port",
                    f"{endpoint.get('port')!r} is no port of {_ref(service)}",
                )


def _autoscaler(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    body = obj["spec"]
    target = body.get("scaleTargetRef", {})
    if (target.get("kind"), target.get("name")) not in index.names:
        yield Problem(
            file,
            _ref(obj),
            "spec.scaleTargetRef",
            f"no {target.get('kind')} named {target.get('name')!r} in the manifests",
        )
    if body.get("minReplicas", 1) > body.get("maxReplicas", 0):
        yield Problem(file, _ref(obj), "spec.minReplicas", "exceeds spec.maxReplicas")
    for i, metric in enumerate(body.get("metrics", [])):
        name = metric.get("pods", {}).get("metric", {}).get("name")
        if name not in index.exposed:
            yield Problem(
                file,
                _ref(obj),
                f"spec.metrics[{i}].pods.metric.name",
                f"{name!r} is exposed by no prometheus-adapter rule",
            )


def _objective(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    pool = obj["spec"].get("poolRef", {}).get("name")
    if ("InferencePool", pool) not in index.names:
        yield Problem(file, _ref(obj), "spec.poolRef.name", f"no InferencePool {pool!r}")


def _pool(file: str, obj: dict, index: _Index) -> Iterator[Problem]:
    chosen = index.selected(obj["spec"].get("selector", {}).get("matchLabels", {}))
    if not chosen:
        yield Problem(file, _ref(obj), "spec.selector", "selects no pod of any workload")
    numbers = {p.get("number") for p in obj["spec"].get("targetPorts", [])}
    for workload, _, template in chosen:
        if not numbers <= _port_numbers(template):
            yield Problem(file, _ref(obj), "spec.targetPorts", f"not all ports of {_ref(workload)}")


_CHECKS = {
    "Service": _service,
    "PodDisruptionBudget": _budget,
    "ServiceMonitor": _monitor,
    "HorizontalPodAutoscaler": _autoscaler,
    "InferenceObjective": _objective,
    "InferencePool": _pool,
}


def reference_problems(objects: list[tuple[str, dict]], spec: ClusterSpec) -> Iterator[Problem]:
    """Cross-object findings over every object of the deployment."""
    index = _index(objects)
    for file, obj in objects:
        kind = obj.get("kind")
        if kind in WORKLOAD_KINDS:
            yield from _workload_problems(file, obj)
        check = _CHECKS.get(kind)  # type: ignore[arg-type]
        if check is not None:
            yield from check(file, obj, index)
    yield from _metric_problems(objects, server_families(spec.engine_kind))
    yield from _gateway_problems(objects, index.services, spec)


def _port_names(template: dict) -> set[str]:
    return {
        p.get("name")
        for c in template.get("spec", {}).get("containers", [])
        for p in c.get("ports", [])
    }


def _port_numbers(template: dict) -> set[int]:
    return {
        p.get("containerPort")
        for c in template.get("spec", {}).get("containers", [])
        for p in c.get("ports", [])
    }


def _workload_problems(file: str, obj: dict) -> Iterator[Problem]:
    ref = _ref(obj)
    selector = obj["spec"].get("selector", {}).get("matchLabels")
    for path, tpl in _pod_templates(obj):
        labels = tpl.get("metadata", {}).get("labels", {})
        if selector is not None and not _selects(selector, labels):
            yield Problem(file, ref, "spec.selector.matchLabels", f"does not match {path} labels")
        pod = tpl.get("spec", {})
        volumes = {v.get("name") for v in pod.get("volumes", [])}
        for ci, container in enumerate(pod.get("containers", [])):
            ports = {p.get("name") for p in container.get("ports", [])}
            for mi, mount in enumerate(container.get("volumeMounts", [])):
                if mount.get("name") not in volumes:
                    yield Problem(
                        file,
                        ref,
                        f"{path}.spec.containers[{ci}].volumeMounts[{mi}].name",
                        f"{mount.get('name')!r} is no volume of the pod",
                    )
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    yield Problem(
                        file,
                        ref,
                        f"{path}.spec.containers[{ci}].{probe}.httpGet.port",
                        f"{port!r} is no port of the container",
                    )


def _adapter_rules(objects: list[tuple[str, dict]]) -> list[dict]:
    rules: list[dict] = []
    for _, obj in objects:
        if obj.get("kind") == "ConfigMap" and "config.yaml" in obj.get("data", {}):
            rules += yaml.safe_load(obj["data"]["config.yaml"]).get("rules", [])
    return rules


def _known(series: str, exported: frozenset[str]) -> bool:
    if series in GATEWAY_SERIES or series in KUBE_STATE_FAMILIES or series in exported:
        return True
    return series in SIGNALS  # a custom metric name the adapter exposes


def _metric_problems(
    objects: list[tuple[str, dict]], exported: frozenset[str]
) -> Iterator[Problem]:
    for file, obj in objects:
        if obj.get("kind") != "ConfigMap":
            continue
        for key, text in obj.get("data", {}).items():
            if key != "config.yaml" and not key.endswith(".json"):
                continue
            for series in sorted(set(_SERIES.findall(text))):
                if not _known(series, exported):
                    yield Problem(
                        file,
                        _ref(obj),
                        f"data.{key}",
                        f"reads `{series}`, which no exporter of this deployment provides",
                    )


def _gateway_problems(
    objects: list[tuple[str, dict]], services: dict[str, dict], spec: ClusterSpec
) -> Iterator[Problem]:
    suffix = f".{spec.namespace}.svc.cluster.local"
    for file, obj in objects:
        if obj.get("kind") != "Deployment" or obj["metadata"]["name"] != spec.gateway_name:
            continue
        command = obj["spec"]["template"]["spec"]["containers"][0]["command"]
        replicas = [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "--replica"]
        if len(replicas) != len(spec.classes):
            yield Problem(file, _ref(obj), "command", "needs one --replica per class")
        for replica in replicas:
            _, _, target = replica.partition("=dns:///")
            host, _, port = target.rpartition(":")
            service = services.get(host.removesuffix(suffix))
            if not host.endswith(suffix) or service is None:
                yield Problem(file, _ref(obj), "command", f"{replica!r} names no Service")
            elif service["spec"].get("clusterIP") != "None":
                yield Problem(file, _ref(obj), "command", f"{host} is not headless")
            elif not any(
                str(p.get("port")) == port and p.get("name") == "grpc"
                for p in service["spec"]["ports"]
            ):
                yield Problem(file, _ref(obj), "command", f"{replica!r}: no gRPC port {port}")


def validate(objects: list[tuple[str, dict]], spec: ClusterSpec) -> list[Problem]:
    """Every problem of the manifests: schemas, then references."""
    found: list[Problem] = []
    for file, obj in objects:
        found += schema_problems(file, obj)
    found += reference_problems(objects, spec)
    return found
