"""Gateway API Inference Extension objects (optional, `kubernetes.inference_extension`): one
InferencePool of every server pod of the deployment, and one InferenceObjective per class with
its priority (the first class of the deploy file highest, as Triton's level 1). Versions
followed: see `tritonsla.k8s.models`. The pool's Endpoint Picker (`<name>-epp`, gRPC port
9002) is installed with the extension's own chart.
"""

from __future__ import annotations

from tritonsla.k8s.spec import ClusterSpec
from tritonsla.k8s.workloads import metadata

EPP_PORT = 9002


def pool_name(spec: ClusterSpec) -> str:
    return f"{spec.name}-pool"


def pool_labels(spec: ClusterSpec) -> dict[str, str]:
    """Labels every serving pod of the deployment carries."""
    return {**spec.common_labels, "app.kubernetes.io/component": "server"}


def inference_pool(spec: ClusterSpec) -> dict:
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": metadata(spec, pool_name(spec), spec.common_labels),
        "spec": {
            "selector": {"matchLabels": pool_labels(spec)},
            "targetPorts": [{"number": spec.ports.http}],
            "endpointPickerRef": {
                "kind": "Service",
                "name": f"{spec.name}-epp",
                "port": {"number": EPP_PORT},
                "failureMode": "FailClose",
            },
        },
    }


def inference_objectives(spec: ClusterSpec) -> list[dict]:
    count = len(spec.classes)
    return [
        {
            "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
            "kind": "InferenceObjective",
            "metadata": metadata(spec, cls.name, cls.labels),
            "spec": {
                "priority": count - index,
                "poolRef": {
                    "group": "inference.networking.k8s.io",
                    "kind": "InferencePool",
                    "name": pool_name(spec),
                },
            },
        }
        for index, cls in enumerate(spec.classes)
    ]
