"""Rendering: every engine kind parses as ModelConfig, profiles differ as designed, writes are
atomic, --check diffs, missing template values fail, broken wiring is caught."""

from __future__ import annotations

import shutil

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritonsla import contract
from tritonsla.errors import RenderError
from tritonsla.repo.pipeline import render
from tritonsla.repo.render import TEMPLATES_DIR, parse_config, validate_plan
from tritonsla.repo.wiring import check_ensemble


def _config(out, model: str) -> mc.ModelConfig:
    return parse_config(model, (out / model / "config.pbtxt").read_bytes())


@pytest.mark.parametrize("deploy", ["cpu.yaml", "h100-llama8b.yaml", "llmapi"])
def test_every_engine_kind_renders_valid_configs(project, deploy):
    if deploy == "llmapi":
        path = project.edit("deploy/h100-llama8b.yaml", lambda d: d.update(engine_kind="llmapi"))
    else:
        path = project.root / "deploy" / deploy
    result = render(path, project.out)
    configs = validate_plan(result.plan)
    assert len(configs) == 15
    for name in ("realtime", "interactive", "batch"):
        for role in contract.MODEL_ROLES:
            assert contract.model_name(name, role) in configs
    engine = _config(project.out, "batch_tensorrt_llm")
    expected_backend = {"cpu.yaml": "python", "h100-llama8b.yaml": "tensorrtllm"}
    assert engine.backend == expected_backend.get(deploy, "python")
    if deploy == "llmapi":
        text = (project.out / "batch_tensorrt_llm" / "1" / "model.yaml").read_text()
        assert "capacity_scheduler_policy: MAX_UTILIZATION" in text
        assert "free_gpu_memory_fraction: 0.45" in text
    if deploy == "h100-llama8b.yaml":
        params = {k: v.string_value for k, v in engine.parameters.items()}
        assert params["gpt_model_path"] == "/engines/batch"
        assert params["batch_scheduler_policy"] == "max_utilization"
        assert params["enable_chunked_context"] == "true"


def test_realtime_and_batch_differ_as_designed(project):
    render(project.deploy, project.out)
    realtime = _config(project.out, "realtime_tensorrt_llm").dynamic_batching
    batch = _config(project.out, "batch_tensorrt_llm").dynamic_batching
    assert realtime.max_queue_delay_microseconds == 0
    assert batch.max_queue_delay_microseconds == 50_000
    assert list(realtime.preferred_batch_size) == []
    assert list(batch.preferred_batch_size) == [16, 32]
    assert realtime.default_queue_policy.max_queue_size == 8
    assert realtime.default_queue_policy.timeout_action == mc.ModelQueuePolicy.REJECT
    assert realtime.default_queue_policy.allow_timeout_override
    assert realtime.default_queue_policy.default_timeout_microseconds == 2_000_000
    assert batch.default_queue_policy.max_queue_size == 4096
    assert batch.default_queue_policy.timeout_action == mc.ModelQueuePolicy.DELAY
    assert realtime.priority_levels == 2 and batch.priority_levels == 0
    realtime_params = _config(project.out, "realtime_tensorrt_llm").parameters
    assert realtime_params["precision"].string_value == "int8"
    assert realtime_params["max_tokens_in_paged_kv_cache"].string_value == "4096"
    assert _config(project.out, "realtime_ensemble").max_batch_size == 4
    assert _config(project.out, "realtime_tensorrt_llm").model_transaction_policy.decoupled


def test_paths_are_portable(project):
    render(project.deploy, project.out)
    params = _config(project.out, "realtime_preprocessing").parameters
    assert params["tokenizer_dir"].string_value == "assets/tiny-gpt2"
    header = (project.out / "batch_ensemble" / "config.pbtxt").read_text().splitlines()[0]
    assert "deploy/cpu.yaml" in header and str(project.root) not in header


def test_per_profile_layout(project):
    path = project.edit("deploy/cpu.yaml", lambda d: d.update(layout="per-profile"))
    render(path, project.out)
    for name in ("realtime", "interactive", "batch"):
        assert (project.out / name / f"{name}_ensemble" / "config.pbtxt").is_file()
        assert not (project.out / f"{name}_ensemble").exists()


def test_failed_render_leaves_previous_output(project, tmp_path):
    render(project.deploy, project.out)
    before = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, broken)
    ensemble = broken / "ensemble.pbtxt.j2"
    ensemble.write_text(ensemble.read_text().replace("platform:", "platfrom:"))
    with pytest.raises(RenderError, match=r"_ensemble/config.pbtxt is not a valid ModelConfig"):
        render(project.deploy, project.out, templates=broken)
    after = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    assert after == before
    assert not list(project.root.glob(".model_repo.*"))


def test_missing_template_value_is_an_error(project, tmp_path):
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, broken)
    pre = broken / "preprocessing.pbtxt.j2"
    pre.write_text(pre.read_text() + "\n# {{ tokenizer_revision }}\n")
    with pytest.raises(RenderError, match="'tokenizer_revision' is undefined"):
        render(project.deploy, project.out, templates=broken)
    assert not project.out.exists()


def test_check_reports_stale_repository(project):
    render(project.deploy, project.out)
    assert render(project.deploy, project.out, check=True).diff == []
    project.edit("profiles/batch.yaml", lambda d: d["batching"].update(max_queue_delay_us=7000))
    diff = "".join(render(project.deploy, project.out, check=True).diff)
    assert "-  max_queue_delay_microseconds: 50000" in diff
    assert "+  max_queue_delay_microseconds: 7000" in diff
    (project.out / "stray.txt").write_text("x")
    assert "stray.txt" in "".join(render(project.deploy, project.out, check=True).diff)


def test_wiring_check_catches_broken_ensemble(project):
    result = render(project.deploy, project.out)
    configs = validate_plan(result.plan)
    ensemble = configs["batch_ensemble"]
    broken = mc.ModelConfig()
    broken.CopyFrom(ensemble)
    step = broken.ensemble_scheduling.step[1]
    step.input_map["input_ids"] = "_NOT_PRODUCED"
    del step.input_map["input_lengths"]
    step.input_map["runtime_top_k"] = "top_p"
    problems = "\n".join(check_ensemble(broken, configs))
    assert "reads '_NOT_PRODUCED', produced by no step" in problems
    assert "required input 'input_lengths' is not mapped" in problems
    assert "'top_p' is TYPE_FP32" in problems
    assert text_format.MessageToString(ensemble)  # the original is untouched


def test_wiring_check_enforces_tritons_decoupled_rule(project):
    # Postprocessing reads the engine's (decoupled) outputs, so its stream key must come through
    # the engine too: reading preprocessing's key directly is what Triton refuses at load.
    configs = validate_plan(render(project.deploy, project.out).plan)
    broken = mc.ModelConfig()
    broken.CopyFrom(configs["batch_ensemble"])
    post = next(s for s in broken.ensemble_scheduling.step if "postprocessing" in s.model_name)
    assert post.input_map["STREAM_KEY"] == "_ENGINE_STREAM_KEY"
    assert check_ensemble(configs["batch_ensemble"], configs) == []
    post.input_map["STREAM_KEY"] = "_STREAM_KEY"
    problems = check_ensemble(broken, configs)
    assert len(problems) == 1
    assert "different decoupled models" in problems[0] and "'batch_tensorrt_llm'" in problems[0]
