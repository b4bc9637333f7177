"""render --target k8s: the shipped deploy files render and pass every check; the checks catch
broken manifests; bad input names its field; the folder is written atomically and only when ours.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tritonsla.errors import ConfigErrors
from tritonsla.folders import MARKER, FolderError
from tritonsla.k8s.render import plan_k8s, render_k8s
from tritonsla.k8s.validate import validate

from .conftest import CPU, H100


def find(result, kind: str, sla: str | None = None) -> tuple[int, dict]:
    for index, (_, obj) in enumerate(result.manifests.all_objects()):
        labels = obj["metadata"].get("labels", {})
        if obj["kind"] == kind and (sla is None or labels.get("tritonsla.io/sla") == sla):
            return index, obj
    raise AssertionError(f"no {kind} for {sla}")


@pytest.mark.parametrize("deploy", [CPU, H100], ids=["cpu", "h100"])
def test_shipped_deploy_files_render_and_pass_every_check(deploy: Path) -> None:
    result = plan_k8s(deploy)
    assert result.schemas_checked  # kubernetes-validate is a dev dependency
    objects = result.manifests.all_objects()
    assert validate(objects, result.spec) == []
    kinds = sorted({obj["kind"] for _, obj in objects})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ]
    for sla in ("realtime", "interactive", "batch"):
        _, hpa = find(result, "HorizontalPodAutoscaler", sla)
        _, service = find(result, "Service", sla)
        assert service["spec"]["clusterIP"] == "None"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    _, realtime = find(result, "HorizontalPodAutoscaler", "realtime")
    _, batch = find(result, "HorizontalPodAutoscaler", "batch")
    realtime_metric = realtime["spec"]["metrics"][0]["pods"]
    assert realtime_metric["metric"]["name"] == "tritonsla_engine_waiting_requests"
    assert realtime_metric["target"]["averageValue"] == "1"
    assert batch["spec"]["metrics"][0]["pods"]["metric"]["name"] == "tritonsla_backlog_requests"


def test_h100_pods_ask_for_their_gpus_and_load_only_their_class() -> None:
    result = plan_k8s(H100)
    _, deployment = find(result, "Deployment", "interactive")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    loads = [arg for arg in container["command"] if arg.startswith("--load-model=")]
    assert loads and all(arg.startswith("--load-model=interactive_") for arg in loads)
    # 900 s to load engines, probed every 10 s
    assert container["startupProbe"]["failureThreshold"] == 90
    # interactive's e2e objective is 2 s: grace covers it, the pre-stop sleep and a margin
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace == 2 + 15 + 5


def test_gateway_routes_each_class_to_its_headless_service() -> None:
    result = plan_k8s(CPU)
    _, gateway = next(
        (i, o)
        for i, (_, o) in enumerate(result.manifests.all_objects())
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-gateway")
    )
    command = gateway["spec"]["template"]["spec"]["containers"][0]["command"]
    replicas = [command[i + 1] for i, arg in enumerate(command) if arg == "--replica"]
    assert replicas == [
        f"{sla}=dns:///cpu-demo-{sla}.tritonsla-cpu.svc.cluster.local:8001"
        for sla in ("realtime", "interactive", "batch")
    ]


LABEL = "tritonsla.io/sla"
"""Stands for `SLA` in mutation paths (the key holds dots)."""


def _mutate(objects: list, index: int, path: str, value: object) -> None:
    node = objects[index][1]
    keys = [LABEL if k == "SLA" else int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


MUTATIONS = [
    # (object kind, class, dotted path, new value, expected field in the problem)
    (
        "Deployment",
        "realtime",
        "spec.template.spec.containers.0.startupProbe.httpGett",
        {},
        "startupProbe",
    ),
    ("Deployment", "batch", "spec.replicas", "two", "spec.replicas"),
    ("Service", "realtime", "spec.selector.SLA", "nobody", "spec.selector"),
    ("Service", "interactive", "spec.ports.1.targetPort", "grcp", "spec.ports[1].targetPort"),
    (
        "HorizontalPodAutoscaler",
        "batch",
        "spec.metrics.0.pods.metric.name",
        "tritonsla_backlog",
        "spec.metrics[0].pods.metric.name",
    ),
    (
        "HorizontalPodAutoscaler",
        "batch",
        "spec.scaleTargetRef.name",
        "elsewhere",
        "spec.scaleTargetRef",
    ),
    ("HorizontalPodAutoscaler", "realtime", "spec.minReplicas", 9, "spec.minReplicas"),
    ("ServiceMonitor", "realtime", "spec.endpoints.0.port", "metric", "spec.endpoints[0].port"),
    ("ServiceMonitor", "batch", "spec.endpoints.0.intervall", "15s", "spec.endpoints.0.intervall"),
    (
        "PodDisruptionBudget",
        "interactive",
        "spec.selector.matchLabels.SLA",
        "x",
        "spec.selector",
    ),
    (
        "Deployment",
        "interactive",
        "spec.template.spec.containers.0.volumeMounts.0.name",
        "model",
        "volumeMounts[0].name",
    ),
]


@pytest.mark.parametrize("kind,sla,path,value,field", MUTATIONS)
def test_a_mutated_manifest_fails_validation(
    kind: str, sla: str, path: str, value: object, field: str
) -> None:
    result = plan_k8s(H100)
    objects = copy.deepcopy(result.manifests.all_objects())
    index, _ = find(result, kind, sla)
    _mutate(objects, index, path, value)
    problems = validate(objects, result.spec)
    assert problems, f"mutating {kind} {path} went unnoticed"
    assert any(field in p.field for p in problems), [str(p) for p in problems]


def test_a_dashboard_or_adapter_series_that_nobody_exports_fails() -> None:
    result = plan_k8s(CPU)
    objects = copy.deepcopy(result.manifests.all_objects())
    adapter = next(o for _, o in objects if o["kind"] == "ConfigMap" and "config.yaml" in o["data"])
    adapter["data"]["config.yaml"] = adapter["data"]["config.yaml"].replace(
        "nv_trt_llm_request_metrics", "nv_trt_llm_request_metric"
    )
    problems = [str(p) for p in validate(objects, result.spec)]
    assert any("nv_trt_llm_request_metric`" in p for p in problems), problems


def test_multi_node_replicas_become_a_leader_worker_set(variant: Callable[..., Path]) -> None:
    deploy = variant(
        hardware={"gpus": 16, "tensor_parallel": 8, "pipeline_parallel": 2},
        kubernetes={"multi_node": True},
    )
    result = plan_k8s(deploy)
    assert validate(result.manifests.all_objects(), result.spec) == []
    _, lws = find(result, "LeaderWorkerSet", "realtime")
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    assert leader["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    script = leader["command"][2]
    assert script.count("-n 1 tritonserver") == 16  # one MPI rank per GPU, as serve builds it
    assert '--host "$hosts"' in script
    shlex.split(script)  # well-formed shell
    _, hpa = find(result, "HorizontalPodAutoscaler", "realtime")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    _, service = find(result, "Service", "realtime")
    assert service["spec"]["selector"]["tritonsla.io/role"] == "leader"
    broken = copy.deepcopy(result.manifests.all_objects())
    index, _ = find(result, "LeaderWorkerSet", "realtime")
    _mutate(broken, index, "spec.leaderWorkerTemplate.restartPolicy", "Always")
    _mutate(broken, index, "spec.leaderWorkerTemplate.workerTemplate.spec.containers.0.imag", "x")
    fields = {p.field for p in validate(broken, result.spec)}
    assert "spec.leaderWorkerTemplate.restartPolicy" in fields
    assert any(
        f.startswith("spec.leaderWorkerTemplate.workerTemplate.spec.containers") for f in fields
    )


def test_inference_extension_objects_reference_the_pool(variant: Callable[..., Path]) -> None:
    result = plan_k8s(variant(kubernetes={"inference_extension": True}))
    objects = result.manifests.all_objects()
    assert validate(objects, result.spec) == []
    objectives = [o for _, o in objects if o["kind"] == "InferenceObjective"]
    assert [o["spec"]["priority"] for o in objectives] == [3, 2, 1]  # realtime first
    broken = copy.deepcopy(objects)
    index = next(i for i, (_, o) in enumerate(broken) if o["kind"] == "InferenceObjective")
    _mutate(broken, index, "spec.poolRef.name", "other-pool")
    _mutate(broken, index, "spec.criticality", 1)
    fields = {p.field for p in validate(broken, result.spec)}
    assert {"spec.poolRef.name", "spec.criticality"} <= fields


BAD_INPUT = [
    (
        {"hardware": {"gpus": 16, "tensor_parallel": 16}},
        "hardware.tensor_parallel",
        "kubernetes.multi_node",
    ),
    (
        {"kubernetes": {"scaling": {"batch": {"min_replicas": 5, "max_replicas": 2}}}},
        "kubernetes.scaling.batch.min_replicas",
        "min_replicas <= max_replicas",
    ),
    (
        {"kubernetes": {"scaling": {"realtime": {"metric": "nv_gpu_utilization"}}}},
        "kubernetes.scaling.realtime.metric",
        "no exporter provides",
    ),
    (
        {
            "engine_kind": "llmapi",
            "kubernetes": {"scaling": {"realtime": {"metric": "tritonsla_backlog_requests"}}},
        },
        "kubernetes.scaling.realtime.metric",
        "nv_trt_llm_request_metrics",
    ),
    (
        {"kubernetes": {"scaling": {"realtme": {"max_replicas": 2}}}},
        "kubernetes.scaling.realtme",
        "realtime",
    ),
    ({"engines_dir": "/data/engines"}, "engines_dir", "not below a mount"),
    (
        {"engine_kind": "cpu", "layout": "shared", "shared_engine": {"max_batch_size": 32}},
        "layout",
        "scale apart",
    ),
    ({"kubernetes": None}, "kubernetes", "kubernetes block"),
]


@pytest.mark.parametrize("changes,field,words", BAD_INPUT)
def test_bad_input_names_the_field(
    variant: Callable[..., Path], changes: dict, field: str, words: str
) -> None:
    deploy = variant(**changes)
    with pytest.raises(ConfigErrors) as caught:
        plan_k8s(deploy)
    matching = [e for e in caught.value.errors if e.field == field]
    assert any(words in str(error) for error in matching), str(caught.value)


def test_writes_atomically_and_only_into_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    render_k8s(CPU, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        MARKER,
        "00-config.yaml",
        "11-realtime.yaml",
        "12-interactive.yaml",
        "13-batch.yaml",
        "20-gateway.yaml",
        "extras/grafana-dashboard.json",
        "extras/prometheus-adapter-values.yaml",
    ]
    docs = list(yaml.safe_load_all((out / "11-realtime.yaml").read_text()))
    assert [d["kind"] for d in docs][:2] == ["Deployment", "Service"]
    render_k8s(CPU, out)  # its own earlier output: replaced
    with pytest.raises(FolderError, match="--force"):
        render_k8s(H100, out)  # another deploy file's manifests
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(FolderError, match="did not write"):
        render_k8s(CPU, foreign)
    assert (foreign / "notes.txt").read_text() == "keep"
    render_k8s(CPU, foreign, force=True)
    assert not (foreign / "notes.txt").exists()


def test_bad_input_writes_nothing(variant: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    render_k8s(CPU, out)
    before = (out / "13-batch.yaml").read_text()
    bad = variant(CPU, kubernetes={"scaling": {"batch": {"min_replicas": 9}}})
    with pytest.raises(ConfigErrors):
        render_k8s(bad, out, force=True)
    assert (out / "13-batch.yaml").read_text() == before


def test_tensor_parallel_inside_a_node_runs_serves_mpirun(variant: Callable[..., Path]) -> None:
    result = plan_k8s(variant(hardware={"gpus": 4, "tensor_parallel": 2, "pipeline_parallel": 2}))
    assert validate(result.manifests.all_objects(), result.spec) == []
    _, deployment = find(result, "Deployment", "batch")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:2] == ["mpirun", "--allow-run-as-root"]
    assert command.count("tritonserver") == 4  # one rank per GPU
    assert "--load-model=batch_tensorrt_llm" in command
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "4"}


@pytest.mark.parametrize("deploy", [CPU, H100], ids=["cpu", "h100"])
def test_the_gateway_config_loads_and_finds_the_model_on_the_claim(
    deploy: Path, tmp_path: Path
) -> None:
    from tritonsla.k8s.gateway import config_files
    from tritonsla.profiles.loading import load_deployment

    result = plan_k8s(deploy)
    files = config_files(load_deployment(deploy), result.spec)
    for path, text in files.items():  # as the ConfigMap's items lay them out
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    loaded = load_deployment(tmp_path / "deploy" / deploy.name)
    assert list(loaded.profiles) == ["realtime", "interactive", "batch"]
    mounts = [Path(m) for m in result.spec.kube.mounts]
    tokenizer = Path(loaded.deploy.model.tokenizer)
    assert tokenizer.is_absolute() and any(tokenizer.is_relative_to(m) for m in mounts)


def test_the_gateway_config_carries_set_values_as_the_pods_do(tmp_path: Path) -> None:
    from tritonsla.k8s.gateway import config_files
    from tritonsla.profiles.loading import load_deployment

    sets = ["realtime.slo.ttft_ms=300"]
    result = plan_k8s(CPU, sets=sets)
    files = config_files(load_deployment(CPU, sets), result.spec)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    loaded = load_deployment(tmp_path / "deploy" / CPU.name)
    assert loaded.profiles["realtime"].slo.ttft_ms == 300
    assert loaded.profiles["realtime"].slo.itl_ms == 150  # the file's own overrides kept
