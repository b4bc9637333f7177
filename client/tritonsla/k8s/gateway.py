"""The gateway's objects: a ConfigMap with the deploy file and its profiles, a Deployment running
`tritonsla gateway` with one `--replica <class>=dns:///<headless service>:<grpc port>` per class
(re-resolved, so new pods join and removed ones drain), its Service and ServiceMonitor (pure).

The API key comes from the Secret `<name>-gateway` (key `api-key`) as TRITONSLA_API_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import yaml

from tritonsla.gateway_protocol import API_KEY_ENV
from tritonsla.k8s.spec import GATEWAY_PORT, ClusterSpec
from tritonsla.k8s.workloads import claim_mounts, claim_volume, metadata, working_dir
from tritonsla.profiles.loading import Deployment, deep_merge

CONFIG_MOUNT = "/etc/tritonsla"


def config_name(spec: ClusterSpec) -> str:
    return f"{spec.name}-config"


def _key(path: str) -> str:
    return path.replace("/", "__")


def pod_path(dep: Deployment, spec: ClusterSpec, value: str) -> str:
    """A model path of the deploy file as the pods see it: absolute paths as written; relative
    ones below the working folder (the first mount), as the repository's relative paths are
    (the deploy file's folder is one below the project root)."""
    if PurePosixPath(value).is_absolute():
        return value
    root = dep.deploy_file.parent.parent
    relative = os.path.relpath(dep.path(value), root)
    return str(PurePosixPath(working_dir(spec)) / PurePosixPath(*Path(relative).parts))


def config_files(dep: Deployment, spec: ClusterSpec) -> dict[str, str]:
    """The deploy file (profiles_dir pointed at the mounted profiles, model paths at the
    claim, `--set` values folded into its overrides, as the pods got them) and its profile
    files, by their path under CONFIG_MOUNT."""
    data = yaml.safe_load(dep.deploy_file.read_text(encoding="utf-8"))
    data["profiles_dir"] = "../profiles"
    if dep.set_values:
        overrides = data.get("overrides") or {}
        for name, values in dep.set_values.items():
            overrides[name] = deep_merge(overrides.get(name) or {}, values)
        data["overrides"] = overrides
    for key in ("checkpoint", "tokenizer"):
        data["model"][key] = pod_path(dep, spec, data["model"][key])
    files = {f"deploy/{dep.deploy_file.name}": yaml.safe_dump(data, sort_keys=False)}
    for name, path in dep.profile_files.items():
        files[f"profiles/{name}.yaml"] = Path(path).read_text(encoding="utf-8")
    return files


def config_map(spec: ClusterSpec, dep: Deployment) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, config_name(spec), spec.gateway_labels),
        "data": {_key(path): text for path, text in config_files(dep, spec).items()},
    }


def gateway_args(spec: ClusterSpec) -> list[str]:
    args = [
        "tritonsla",
        "gateway",
        "--deploy",
        f"{CONFIG_MOUNT}/deploy/{spec.deploy_file}",
        "--host",
        "0.0.0.0",
        "--port",
        str(GATEWAY_PORT),
    ]
    for cls in spec.classes:
        args += ["--replica", spec.dns(cls)]
    return args


def gateway_deployment(spec: ClusterSpec, dep: Deployment) -> dict:
    # Ready once a replica of every class is (the gateway's client resolves the DNS names from
    # its start, not its first request); alive while it answers at all.
    probe = {"httpGet": {"path": "/health/ready", "port": "http"}, "periodSeconds": 5}
    alive = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10}
    items = [{"key": _key(path), "path": path} for path in config_files(dep, spec)]
    container = {
        "name": "gateway",
        "image": spec.kube.gateway_image or spec.kube.image,
        "command": gateway_args(spec),
        "env": [
            {
                "name": API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": spec.gateway_name, "key": "api-key"}},
            }
        ],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": alive,
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
            *claim_mounts(spec),  # the tokenizer and chat template
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, spec.gateway_name, spec.gateway_labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(spec.gateway_labels)},
            "template": {
                "metadata": {"labels": dict(spec.gateway_labels)},
                "spec": {
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "config",
                            "configMap": {"name": config_name(spec), "items": items},
                        },
                        claim_volume(spec),
                    ],
                },
            },
        },
    }


def gateway_service(spec: ClusterSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, spec.gateway_name, spec.gateway_labels),
        "spec": {
            "selector": dict(spec.gateway_labels),
            "ports": [{"name": "http", "port": GATEWAY_PORT, "targetPort": "http"}],
        },
    }
