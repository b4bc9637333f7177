"""What `render --target k8s` refuses, each problem naming its field (pure).

Runs after the deployment's own rules: a kubernetes block must exist; classes sharing one engine
cannot scale apart; a replica's GPUs must fit one node unless it may span nodes (then whole
nodes); replica bounds ordered; every HPA metric one that the class's servers export; every
object name a DNS label.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from tritonsla.errors import ConfigError
from tritonsla.k8s.metrics import server_families
from tritonsla.k8s.signals import SIGNALS
from tritonsla.k8s.spec import k8s_name, node_gpus, replica_gpus
from tritonsla.profiles.diagnostics import unknown_key_error
from tritonsla.profiles.loading import Deployment, display_path

MAX_NAME = 63
"""DNS label length limit of Kubernetes object names (RFC 1123)."""


def k8s_rules(dep: Deployment) -> list[ConfigError]:
    """Every problem of the deploy file for Kubernetes; empty when the manifests can be built."""
    return list(_rules(dep))


def _rules(dep: Deployment) -> Iterator[ConfigError]:
    file = display_path(dep.deploy_file)
    d = dep.deploy
    kube = d.kubernetes
    if kube is None:
        yield ConfigError(
            file,
            "kubernetes",
            "render --target k8s needs the deploy file's kubernetes block",
            "add `kubernetes: {image: ..., model_claim: ..., repository: ...}`",
        )
        return
    if d.layout == "shared":
        yield ConfigError(
            file,
            "layout",
            "classes that share one engine cannot scale apart on Kubernetes",
            "use layout single or per-profile (one Deployment per class)",
        )
    gpus = replica_gpus(dep)
    per_node = node_gpus(dep, kube)
    if gpus and per_node == 0:
        yield ConfigError(
            file, "kubernetes.node_gpus", "is 0 for a GPU engine", "set the GPUs of one node"
        )
    elif gpus > per_node and not kube.multi_node:
        yield ConfigError(
            file,
            "hardware.tensor_parallel",
            f"a replica needs tp x pp = {gpus} GPUs but a node has {per_node} "
            "(kubernetes.node_gpus) and kubernetes.multi_node is off",
            "set `kubernetes.multi_node: true` (one LeaderWorkerSet group spans nodes) or lower "
            "tensor_parallel x pipeline_parallel",
        )
    elif gpus > per_node and gpus % per_node:
        yield ConfigError(
            file,
            "kubernetes.node_gpus",
            f"a multi-node replica of {gpus} GPUs does not fill whole nodes of {per_node}",
            "make tp x pp a multiple of the GPUs of one node",
        )
    yield from _mount_rules(dep, file)
    yield from _scaling_rules(dep, file)
    for name in [*(k8s_name(d.name, sla) for sla in dep.profiles), k8s_name(d.name, "gateway")]:
        if len(name) > MAX_NAME:
            yield ConfigError(
                file, "name", f"object name {name!r} is longer than {MAX_NAME}", "shorten it"
            )


def _scaling_rules(dep: Deployment, file: str) -> Iterator[ConfigError]:
    kube = dep.deploy.kubernetes
    assert kube is not None
    exported = server_families(dep.deploy.engine_kind)
    for sla, scaling in kube.scaling.items():
        field = f"kubernetes.scaling.{sla}"
        if sla not in dep.profiles:
            yield unknown_key_error(file, field, sla, list(dep.profiles))
            continue
        if scaling.min_replicas > scaling.max_replicas:
            yield ConfigError(
                file,
                f"{field}.min_replicas",
                f"min_replicas {scaling.min_replicas} exceeds max_replicas {scaling.max_replicas}",
                "make min_replicas <= max_replicas",
            )
        metric = scaling.metric
        if metric is None:
            continue
        signal = SIGNALS.get(metric)
        if signal is None:
            yield ConfigError(
                file,
                f"{field}.metric",
                f"no exporter provides `{metric}`",
                f"use one of: {', '.join(sorted(SIGNALS))}",
            )
            continue
        missing = sorted(set(signal.families) - exported)
        if missing:
            usable = sorted(n for n, s in SIGNALS.items() if set(s.families) <= exported)
            yield ConfigError(
                file,
                f"{field}.metric",
                f"`{metric}` reads {', '.join(missing)}, which a {dep.deploy.engine_kind} server "
                "does not export",
                f"use one of: {', '.join(usable)}",
            )


def _mount_rules(dep: Deployment, file: str) -> Iterator[ConfigError]:
    """The repository, and a GPU deployment's engines and model folders, lie below a mount."""
    kube = dep.deploy.kubernetes
    assert kube is not None
    mounts = [PurePosixPath(path) for path in kube.mounts]
    for index, path in enumerate(mounts):
        if not path.is_absolute():
            yield ConfigError(
                file, f"kubernetes.mounts.{path}", "is not an absolute path", "start it with /"
            )
        if any(other != path and path.is_relative_to(other) for other in mounts[:index]):
            yield ConfigError(
                file, f"kubernetes.mounts.{path}", "lies inside another mount", "mount it apart"
            )
    needed = {"kubernetes.repository": kube.repository}
    if dep.deploy.engine_kind != "cpu":  # cpu paths are relative to the mount (working folder)
        needed["model.checkpoint"] = dep.deploy.model.checkpoint
        needed["model.tokenizer"] = dep.deploy.model.tokenizer
        if dep.deploy.engine_kind == "trt-engine":
            needed["engines_dir"] = dep.deploy.engines_dir
    for field, value in needed.items():
        path = PurePosixPath(value)
        if not path.is_absolute() or not any(path.is_relative_to(m) for m in mounts):
            yield ConfigError(
                file,
                field,
                f"{value} is not below a mount of the model claim ({', '.join(kube.mounts)})",
                "add a mount under kubernetes.mounts, or use an absolute path below one",
            )
