"""Autoscaling and monitoring objects: an HPA per class on its own signal, the
prometheus-adapter rules that expose those signals, and a ServiceMonitor per class (pure).

The HPA reads a `Pods` metric (autoscaling/v2) averaged over the class's pods; the adapter
computes it from the series Prometheus scraped off each pod (ServiceMonitor, prometheus-operator
monitoring.coreos.com/v1: `selector`, `namespaceSelector`, `endpoints[].port/path/interval`).
Classes with a first-token objective scale up at once; every class scales down only after
calm for the longer of five minutes and its termination grace, so a short lull does not drop
capacity.
"""

from __future__ import annotations

import yaml

from tritonsla.k8s.signals import SIGNALS, quantity
from tritonsla.k8s.spec import ClassSpec, ClusterSpec
from tritonsla.k8s.workloads import LWS_API, metadata

SCRAPE_INTERVAL = "15s"
SCALE_DOWN_WINDOW_S = 300


def scale_target(cls: ClassSpec) -> dict:
    if cls.multi_node:
        return {"apiVersion": LWS_API, "kind": "LeaderWorkerSet", "name": cls.name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": cls.name}


def autoscaler(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """The class's HorizontalPodAutoscaler on its signal's per-pod average."""
    urgent = cls.profile.slo.ttft_ms is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec, cls.name, cls.labels),
        "spec": {
            "scaleTargetRef": scale_target(cls),
            "minReplicas": cls.min_replicas,
            "maxReplicas": cls.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": cls.signal},
                        "target": {"type": "AverageValue", "averageValue": quantity(cls.target)},
                    },
                }
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0 if urgent else 60},
                "scaleDown": {
                    "stabilizationWindowSeconds": max(SCALE_DOWN_WINDOW_S, cls.drain_s),
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def adapter_rules(spec: ClusterSpec) -> list[dict]:
    """One prometheus-adapter rule per signal the classes use (their `rules.custom`)."""
    used = sorted({cls.signal for cls in spec.classes})
    rules = []
    for name in used:
        signal = SIGNALS[name]
        rules.append(
            {
                "seriesQuery": signal.series_query,
                "resources": {
                    "overrides": {
                        "namespace": {"resource": "namespace"},
                        "pod": {"resource": "pod"},
                    }
                },
                "name": {"matches": f"^{signal.families[0]}$", "as": signal.name},
                "metricsQuery": signal.metrics_query,
            }
        )
    return rules


def adapter_config(spec: ClusterSpec) -> dict:
    """The rules as the ConfigMap prometheus-adapter reads (`config.yaml`); mount it as the
    adapter's --config, or give `rules` to its Helm chart as `rules.custom`."""
    labels = {**spec.common_labels, "app.kubernetes.io/component": "metrics"}
    body = yaml.safe_dump({"rules": adapter_rules(spec)}, sort_keys=False)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, f"{spec.name}-adapter-rules", labels),
        "data": {"config.yaml": body},
    }


def service_monitor(spec: ClusterSpec, name: str, labels: dict[str, str], port: str) -> dict:
    """Prometheus scrapes /metrics on `port` of every pod behind the Service labelled `labels`
    (a class's headless Service, or the gateway's)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(spec, name, labels),
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "endpoints": [{"port": port, "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }
