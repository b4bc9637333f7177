"""All manifests of a deployment, by file name, in the order they are applied (pure).

`kubectl apply -f DIR` applies the YAML files of DIR in name order and does not descend into
`extras/` (the Helm values of prometheus-adapter and the dashboard JSON, which are not objects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from tritonsla.k8s import dashboard, gateway, inference, scaling, workloads
from tritonsla.k8s.spec import ClusterSpec
from tritonsla.profiles.loading import Deployment


@dataclass(frozen=True)
class Manifests:
    """Objects per YAML file, and the other files (relative path -> text)."""

    objects: dict[str, list[dict]]
    extras: dict[str, str]

    def all_objects(self) -> list[tuple[str, dict]]:
        return [(file, obj) for file, objs in self.objects.items() for obj in objs]


def build(spec: ClusterSpec, dep: Deployment) -> Manifests:
    """Every object and extra file of the deployment."""
    board = dashboard.dashboard(spec)
    objects: dict[str, list[dict]] = {
        "00-config.yaml": [
            gateway.config_map(spec, dep),
            scaling.adapter_config(spec),
            dashboard.dashboard_config_map(spec, board),
        ]
    }
    for index, cls in enumerate(spec.classes, start=1):
        objects[f"{10 + index:02d}-{cls.sla.replace('_', '-')}.yaml"] = [
            workloads.workload(spec, cls),
            workloads.headless_service(spec, cls),
            workloads.disruption_budget(spec, cls),
            scaling.autoscaler(spec, cls),
            scaling.service_monitor(spec, cls.name, cls.labels, "metrics"),
        ]
    objects["20-gateway.yaml"] = [
        gateway.gateway_deployment(spec, dep),
        gateway.gateway_service(spec),
        scaling.service_monitor(spec, spec.gateway_name, spec.gateway_labels, "http"),
    ]
    if spec.kube.inference_extension:
        objects["30-inference-extension.yaml"] = [
            inference.inference_pool(spec),
            *inference.inference_objectives(spec),
        ]
    extras = {
        "extras/prometheus-adapter-values.yaml": yaml.safe_dump(
            {"rules": {"default": False, "custom": scaling.adapter_rules(spec)}}, sort_keys=False
        ),
        "extras/grafana-dashboard.json": json.dumps(board, indent=2) + "\n",
    }
    return Manifests(objects, extras)


def to_yaml(objects: list[dict]) -> str:
    """One YAML stream, objects separated by `---`."""
    return "---\n".join(yaml.safe_dump(obj, sort_keys=False) for obj in objects)
