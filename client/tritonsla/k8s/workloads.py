"""Server objects of one SLA class: its pods (Deployment, or LeaderWorkerSet across nodes),
headless Service and PodDisruptionBudget (pure dicts, in manifest order).

Probes follow Triton's HTTP health API: a startup probe on `/v2/health/ready` gives the engines
`engine_load_s` to load (with `--strict-readiness`, ready means every model loaded), then
readiness on the same path and liveness on `/v2/health/live`. A stopping pod sleeps PRESTOP_S
(endpoints stop sending to it), and tritonserver then waits for requests in flight
(`--exit-timeout-secs`) within the termination grace derived from the class's longest request.
Multi-node replicas follow LeaderWorkerSet's TensorRT-LLM example (docs/examples/tensorrt-llm in
kubernetes-sigs/lws): the leader runs mpirun over the group's pods, whose hostnames derive from
LWS_LEADER_ADDRESS; the workers run sshd for mpirun's launcher.
"""

from __future__ import annotations

import math
import shlex

from tritonsla.k8s.spec import ADMIN_KEY_ENV, PRESTOP_S, ClassSpec, ClusterSpec

HEALTH_READY = "/v2/health/ready"
HEALTH_LIVE = "/v2/health/live"
STARTUP_PERIOD_S = 10
LWS_API = "leaderworkerset.x-k8s.io/v1"
ROLE_LABEL = "tritonsla.io/role"
GPU_RESOURCE = "nvidia.com/gpu"


def admin_secret(spec: ClusterSpec) -> str:
    """The Secret (created by the operator, key `admin-key`) holding the admin key."""
    return f"{spec.name}-admin"


def metadata(spec: ClusterSpec, name: str, labels: dict[str, str]) -> dict:
    return {"name": name, "namespace": spec.namespace, "labels": dict(labels)}


def _resources(spec: ClusterSpec, cls: ClassSpec) -> dict:
    requests: dict[str, str] = {}
    if spec.kube.cpu:
        requests["cpu"] = spec.kube.cpu
    if spec.kube.memory:
        requests["memory"] = spec.kube.memory
    resources: dict[str, dict[str, str]] = {}
    if cls.gpus:
        gpus = str(cls.gpus_per_pod)
        resources["limits"] = {GPU_RESOURCE: gpus}
        requests[GPU_RESOURCE] = gpus
    if requests:
        resources["requests"] = requests
    return resources


def _ports(spec: ClusterSpec) -> list[dict]:
    p = spec.ports
    return [
        {"name": "http", "containerPort": p.http, "protocol": "TCP"},
        {"name": "grpc", "containerPort": p.grpc, "protocol": "TCP"},
        {"name": "metrics", "containerPort": p.metrics, "protocol": "TCP"},
    ]


def claim_mounts(spec: ClusterSpec) -> list[dict]:
    """The model claim, read-only, at every mount the deploy file names."""
    mounts = []
    for path, sub in spec.kube.mounts.items():
        mount = {"name": "models", "mountPath": path, "readOnly": True}
        if sub:
            mount["subPath"] = sub
        mounts.append(mount)
    return mounts


def claim_volume(spec: ClusterSpec) -> dict:
    return {
        "name": "models",
        "persistentVolumeClaim": {"claimName": spec.kube.model_claim, "readOnly": True},
    }


def _mounts(spec: ClusterSpec) -> list[dict]:
    return [*claim_mounts(spec), {"name": "dshm", "mountPath": "/dev/shm"}]


def working_dir(spec: ClusterSpec) -> str:
    """The first mount: relative paths of a repository rendered beside its assets resolve there."""
    return next(iter(spec.kube.mounts))


def _probe(path: str, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def server_container(spec: ClusterSpec, cls: ClassSpec, command: list[str]) -> dict:
    """The tritonserver container of a class's pod (or a multi-node group's leader)."""
    return {
        "name": "tritonserver",
        "image": spec.kube.image,
        "command": command,
        "workingDir": working_dir(spec),
        "env": [
            {
                "name": ADMIN_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": admin_secret(spec), "key": "admin-key"}},
            }
        ],
        "ports": _ports(spec),
        "resources": _resources(spec, cls),
        "startupProbe": _probe(
            HEALTH_READY, STARTUP_PERIOD_S, math.ceil(spec.kube.engine_load_s / STARTUP_PERIOD_S)
        ),
        "readinessProbe": _probe(HEALTH_READY, 5, 2),
        "livenessProbe": _probe(HEALTH_LIVE, 10, 3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_S}}},
        "volumeMounts": _mounts(spec),
    }


def _pod_spec(spec: ClusterSpec, cls: ClassSpec, container: dict) -> dict:
    return {
        "terminationGracePeriodSeconds": cls.drain_s,
        "containers": [container],
        "volumes": [
            claim_volume(spec),
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": spec.kube.shm_size}},
        ],
    }


def deployment(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """A single-node class: one pod per replica running `serve`'s command."""
    container = server_container(spec, cls, list(cls.argv))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, cls.name, cls.labels),
        "spec": {
            "replicas": cls.min_replicas,
            "selector": {"matchLabels": dict(cls.labels)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": dict(cls.labels)},
                "spec": _pod_spec(spec, cls, container),
            },
        },
    }


def leader_script(cls: ClassSpec) -> str:
    """Shell that lists the group's hosts (GPUs of a node each) and execs mpirun over them."""
    argv = list(cls.argv)
    argv[2:2] = ["--host", "__HOSTS__"]
    command = shlex.join(argv).replace("__HOSTS__", '"$hosts"')
    slots = cls.gpus_per_pod
    return (
        f'hosts="$LWS_LEADER_ADDRESS:{slots}"; i=1; '
        'while [ "$i" -lt "$LWS_GROUP_SIZE" ]; do '
        f'hosts="$hosts,${{LWS_LEADER_ADDRESS%%.*}}-$i.${{LWS_LEADER_ADDRESS#*.}}:{slots}"; '
        "i=$((i + 1)); done; "
        f"exec {command}"
    )


def leader_worker_set(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """A multi-node class: each replica a group of `group_size` pods, one MPI rank per GPU."""
    leader = server_container(spec, cls, ["sh", "-c", leader_script(cls)])
    worker = {
        "name": "mpi-worker",
        "image": spec.kube.image,
        "command": ["/usr/sbin/sshd", "-D"],
        "workingDir": working_dir(spec),
        "resources": _resources(spec, cls),
        "volumeMounts": _mounts(spec),
    }
    return {
        "apiVersion": LWS_API,
        "kind": "LeaderWorkerSet",
        "metadata": metadata(spec, cls.name, cls.labels),
        "spec": {
            "replicas": cls.min_replicas,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": cls.group_size,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": {**cls.labels, ROLE_LABEL: "leader"}},
                    "spec": _pod_spec(spec, cls, leader),
                },
                "workerTemplate": {
                    "metadata": {"labels": {**cls.labels, ROLE_LABEL: "worker"}},
                    "spec": _pod_spec(spec, cls, worker),
                },
            },
        },
    }


def serving_labels(cls: ClassSpec) -> dict[str, str]:
    """Labels of the pods that serve requests: every pod, or a group's leader."""
    return {**cls.labels, ROLE_LABEL: "leader"} if cls.multi_node else dict(cls.labels)


def headless_service(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """One DNS name that resolves to every ready serving pod of the class (no cluster IP)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, cls.service, cls.labels),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": False,
            "selector": serving_labels(cls),
            "ports": [
                {"name": p["name"], "port": p["containerPort"], "targetPort": p["name"]}
                for p in _ports(spec)
            ],
        },
    }


def disruption_budget(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """Voluntary disruptions (drains, upgrades) take at most one replica of the class at once."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec, cls.name, cls.labels),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": serving_labels(cls)}},
    }


def workload(spec: ClusterSpec, cls: ClassSpec) -> dict:
    """The class's pods: a LeaderWorkerSet across nodes, else a Deployment."""
    return leader_worker_set(spec, cls) if cls.multi_node else deployment(spec, cls)
