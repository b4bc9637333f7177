"""Topologies: the three deploy files at one budget, the shared engine's repository and rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritonsla.errors import ConfigErrors
from tritonsla.profiles.loading import load_deployment
from tritonsla.profiles.topology import (
    SHARED_ENGINE_MODEL,
    compute_budget,
    engine_models,
    engine_priority_level,
)
from tritonsla.repo.pipeline import load_and_check, render
from tritonsla.routing import EndpointTable

ROOT = Path(__file__).resolve().parents[3]
TOPOLOGIES = {"dedicated": "cpu.yaml", "shared": "cpu-shared.yaml", "single": "cpu-single.yaml"}


def _config(out: Path, model: str) -> mc.ModelConfig:
    return text_format.Parse((out / model / "config.pbtxt").read_text(), mc.ModelConfig())


def test_the_three_topologies_state_and_have_one_budget():
    budgets = {}
    for name, file in TOPOLOGIES.items():
        dep = load_deployment(ROOT / "deploy" / file)
        stated, actual = dep.deploy.budget, compute_budget(dep)
        assert stated is not None, f"{file} states no budget"
        assert (stated.inflight_slots, stated.kv_tokens) == (
            actual.inflight_slots,
            actual.kv_tokens,
        )
        budgets[name] = (stated.cores, stated.inflight_slots, stated.kv_tokens)
    assert len(set(budgets.values())) == 1, budgets
    shared = compute_budget(load_deployment(ROOT / "deploy" / TOPOLOGIES["shared"]))
    assert (shared.engine_instances, shared.blas_threads_per_engine) == (2, 1)


def test_shared_layout_renders_one_engine_with_a_level_per_class(project):
    project.write("deploy/cpu-shared.yaml", (ROOT / "deploy/cpu-shared.yaml").read_text())
    deploy = project.root / "deploy" / "cpu-shared.yaml"
    result = render(deploy, project.out)
    models = {path.split("/")[0] for path in result.plan}
    assert SHARED_ENGINE_MODEL in models
    assert not any(m.endswith("_tensorrt_llm") for m in models)
    engine = _config(project.out, SHARED_ENGINE_MODEL)
    batching = engine.dynamic_batching
    assert (batching.priority_levels, batching.default_priority_level) == (3, 3)
    dep = result.deployment
    for level, (sla, profile) in enumerate(dep.profiles.items(), start=1):
        policy = batching.priority_queue_policy[level]
        assert policy.max_queue_size == profile.queue.max_queue_size
        assert policy.default_timeout_microseconds == profile.queue.default_timeout_us
        assert mc.ModelQueuePolicy.TimeoutAction.Name(policy.timeout_action) == (
            profile.queue.timeout_action
        )
        ensemble = _config(project.out, f"{sla}_ensemble")
        steps = [step.model_name for step in ensemble.ensemble_scheduling.step]
        assert steps == [f"{sla}_preprocessing", SHARED_ENGINE_MODEL, f"{sla}_postprocessing"]
        pre = _config(project.out, f"{sla}_preprocessing")
        assert pre.parameters["engine_priority_level"].string_value == str(level)
        bls = _config(project.out, f"{sla}_tensorrt_llm_bls")
        assert bls.parameters["tensorrt_llm_model"].string_value == SHARED_ENGINE_MODEL
    assert engine.parameters["waiting_queue_policy"].string_value == "priority"
    assert engine.instance_group[0].count == 2


def test_dedicated_preprocessing_sends_level_zero(project):
    render(project.deploy, project.out)
    pre = _config(project.out, "realtime_preprocessing")
    assert pre.parameters["engine_priority_level"].string_value == "0"


def test_routing_table_of_a_shared_engine(project):
    project.write("deploy/cpu-shared.yaml", (ROOT / "deploy/cpu-shared.yaml").read_text())
    dep = load_deployment(project.root / "deploy" / "cpu-shared.yaml")
    table = EndpointTable.from_deployment(dep)
    levels = {sla: (e.engine_model, e.engine_level) for sla, e in table.endpoints.items()}
    assert levels == {
        "realtime": ("tensorrt_llm", 1),
        "interactive": ("tensorrt_llm", 2),
        "batch": ("tensorrt_llm", 3),
    }
    assert table.endpoint("batch").pipeline_models[1] == "tensorrt_llm"
    assert [e.model for e in engine_models(dep)] == ["tensorrt_llm"]
    assert engine_priority_level(dep, "interactive") == 2


def _shared(project, change=None) -> Path:
    project.write("deploy/cpu-shared.yaml", (ROOT / "deploy/cpu-shared.yaml").read_text())
    return project.edit("deploy/cpu-shared.yaml", change or (lambda d: None))


def _problems(path: Path, out: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(path, out)
    return [str(error) for error in caught.value.errors]


def test_shared_classes_must_agree_on_precision(project):
    path = _shared(project, lambda d: d["overrides"]["realtime"]["engine"].update(precision="int8"))
    (problem,) = _problems(path, project.out)
    assert "cpu-shared.yaml" in problem
    assert "overrides.realtime.engine.precision" in problem
    assert "the shared engine has one precision" in problem


def test_shared_classes_must_agree_on_sequence_limits(project):
    path = _shared(project, lambda d: d["overrides"]["batch"]["engine"].update(max_seq_len=400))
    (problem,) = _problems(path, project.out)
    assert "overrides.batch.engine.max_seq_len" in problem


def test_shared_layout_needs_its_engine(project):
    path = _shared(project, lambda d: d.pop("shared_engine"))
    (problem,) = _problems(path, project.out)
    assert "shared_engine" in problem and "max_batch_size" in problem


def test_shared_engine_without_shared_layout(project):
    path = _shared(project, lambda d: d.update(layout="single"))
    problems = _problems(path, project.out)
    assert any("`layout: shared`" in p and "shared_engine" in p for p in problems)


def test_shared_layout_refused_for_trt_engine(project):
    path = _shared(project, lambda d: d.update(engine_kind="trt-engine", hardware={"gpus": 1}))
    problems = _problems(path, project.out)
    assert any("not built for engine_kind trt-engine" in p for p in problems)


def test_a_stated_budget_that_differs_is_refused(project):
    path = project.edit("deploy/cpu.yaml", lambda d: d["budget"].update(inflight_slots=64))
    (problem,) = _problems(path, project.out)
    assert "budget.inflight_slots" in problem
    assert "states 64 but the engines have 52" in problem
