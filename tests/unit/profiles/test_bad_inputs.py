"""Every bad input is refused with a message naming the file, the field path and a fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tritonsla.errors import ConfigErrors, TritonSlaError
from tritonsla.repo.pipeline import load_and_check


def _set(path: str, value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        node = data
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return change


def _drop(path: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        node = data
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def _fractions(shares: dict[str, float]) -> Callable[[dict], None]:
    """KV caches sized by device fractions instead of explicit token counts."""

    def change(data: dict) -> None:
        for name, share in shares.items():
            data["overrides"][name]["engine"]["kv_cache"] = {"free_gpu_mem_fraction": share}

    return change


# (id, file edited, change, expected file in message, expected field, expected words)
PROFILE_CASES = [
    (
        "typo-top",
        "profiles/batch.yaml",
        _set("batchng", {}),
        "batch.yaml",
        "batchng",
        "did you mean `batching`",
    ),
    (
        "typo-nested",
        "profiles/realtime.yaml",
        _set("batching.max_batch_sise", 4),
        "realtime.yaml",
        "batching.max_batch_sise",
        "did you mean `max_batch_size`",
    ),
    (
        "wrong-type",
        "profiles/batch.yaml",
        _set("queue.max_queue_size", "lots"),
        "batch.yaml",
        "queue.max_queue_size",
        "integer",
    ),
    (
        "string-bool",
        "profiles/realtime.yaml",
        _set("streaming", "yes"),
        "realtime.yaml",
        "streaming",
        "boolean",
    ),
    (
        "range",
        "profiles/batch.yaml",
        _set("queue.max_queue_size", -1),
        "batch.yaml",
        "queue.max_queue_size",
        "greater than or equal",
    ),
    (
        "literal",
        "profiles/batch.yaml",
        _set("engine.batch_scheduler_policy", "fifo"),
        "batch.yaml",
        "engine.batch_scheduler_policy",
        "max_utilization",
    ),
    (
        "kv-fraction-range",
        "profiles/batch.yaml",
        _set("engine.kv_cache.free_gpu_mem_fraction", 1.5),
        "batch.yaml",
        "engine.kv_cache.free_gpu_mem_fraction",
        "less than or equal",
    ),
    (
        "preferred-too-big",
        "profiles/realtime.yaml",
        _set("batching.preferred_batch_sizes", [2, 8]),
        "realtime.yaml",
        "batching.preferred_batch_sizes",
        "outside",
    ),
    (
        "preferred-override",
        "deploy/cpu.yaml",
        _set("overrides.interactive.batching", {"preferred_batch_sizes": [16, 8]}),
        "deploy/cpu.yaml",
        "overrides.interactive.batching.preferred_batch_sizes",
        "not strictly ascending",
    ),
    (
        "streaming-needs-decoupled",
        "profiles/realtime.yaml",
        _set("decoupled", False),
        "realtime.yaml",
        "decoupled",
        "decoupled: true",
    ),
    (
        "deadline-needs-timeout",
        "profiles/realtime.yaml",
        _set("queue.default_timeout_us", 0),
        "realtime.yaml",
        "queue.default_timeout_us",
        "non-zero",
    ),
    (
        "deadline-needs-override",
        "profiles/interactive.yaml",
        _set("queue.allow_timeout_override", False),
        "interactive.yaml",
        "queue.allow_timeout_override",
        "allow_timeout_override: true",
    ),
    (
        "priority-range",
        "profiles/interactive.yaml",
        _set("queue.default_priority_level", 3),
        "interactive.yaml",
        "queue.default_priority_level",
        "outside 1..priority_levels",
    ),
    (
        "postprocessing-instances",
        "profiles/realtime.yaml",
        _set("instances.postprocessing", 2),
        "realtime.yaml",
        "instances.postprocessing",
        "UTF-8 state",
    ),
    (
        "name-mismatch",
        "profiles/batch.yaml",
        _set("name", "bulk"),
        "batch.yaml",
        "name",
        "rename the file",
    ),
    (
        "name-injection",
        "profiles/batch.yaml",
        _set("name", 'batch" } input [ {'),
        "batch.yaml",
        "name",
        "pattern",
    ),
    ("missing-name", "profiles/batch.yaml", _drop("name"), "batch.yaml", "name", "required"),
]


@pytest.mark.parametrize(
    ("edited", "change", "file", "field", "words"),
    [case[1:] for case in PROFILE_CASES],
    ids=[case[0] for case in PROFILE_CASES],
)
def test_profile_errors_name_file_and_field(project, edited, change, file, field, words):
    project.edit(edited, change)
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(project.deploy, project.out)
    messages = [str(e) for e in caught.value.errors]
    assert any(file in m and f"`{field}`" in m and words in m for m in messages), messages


DEPLOY_CASES = [
    (
        "override-typo",
        _set("overrides.realtime.batching", {"max_batch_sise": 2}),
        "overrides.realtime.batching.max_batch_sise",
        "did you mean `max_batch_size`",
    ),
    (
        "override-unknown-profile",
        _set("overrides.realtme", {}),
        "overrides.realtme",
        "did you mean `realtime`",
    ),
    (
        "unknown-profile-listed",
        _set("profiles", ["realtime", "offline"]),
        "profiles[1]",
        "use one of",
    ),
    (
        "kv-sum",
        _fractions({"realtime": 0.5, "interactive": 0.45, "batch": 0.45}),
        "profiles",
        "sum to 1.40",
    ),
    (
        "seq-len",
        _set("overrides.realtime.engine", {"max_seq_len": 128, "max_input_len": 256}),
        "overrides.realtime.engine.max_seq_len",
        "no room",
    ),
    (
        "no-chunking-long-prompt",
        _set(
            "overrides.batch.engine",
            {"enable_chunked_context": False, "max_num_tokens": 64, "max_input_len": 256},
        ),
        "overrides.batch.engine.max_num_tokens",
        "chunked context",
    ),
    (
        "cpu-fp8",
        _set("overrides.interactive.engine", {"precision": "fp8"}),
        "overrides.interactive.engine.precision",
        "not available on the cpu engine",
    ),
    (
        "cpu-v1",
        _set("overrides.batch.engine", {"batching_strategy": "V1"}),
        "overrides.batch.engine.batching_strategy",
        "only does in-flight batching",
    ),
    ("cpu-tp", _set("hardware.tensor_parallel", 2), "hardware.tensor_parallel", "tp x pp = 2"),
    (
        "path-injection",
        _set("model.tokenizer", 'assets/x"\nbackend: "evil'),
        "model.tokenizer",
        "quotes",
    ),
    (
        "missing-assets",
        _set("model.checkpoint", "../assets/nowhere"),
        "model.checkpoint",
        "./build.sh setup",
    ),
    (
        "tokenizer-inside-repo",
        _set("model.tokenizer", "../model_repo/tok"),
        "model.tokenizer",
        "inside the output model repository",
    ),
    ("port-collision", _set("server.grpc_port", 8000), "server", "ports collide"),
    ("bad-engine-kind", _set("engine_kind", "onnx"), "engine_kind", "use one of"),
]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [case[1:] for case in DEPLOY_CASES],
    ids=[case[0] for case in DEPLOY_CASES],
)
def test_deploy_errors_name_file_and_field(project, change, field, words):
    (project.root / "model_repo" / "tok").mkdir(parents=True)
    project.edit("deploy/cpu.yaml", change)
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(project.deploy, project.out)
    messages = [str(e) for e in caught.value.errors]
    assert any("cpu.yaml" in m and f"`{field}`" in m and words in m for m in messages), messages


def test_missing_deploy_file_is_named(project):
    with pytest.raises(ConfigErrors, match=r"nope\.yaml: `\(file\)`: file not found"):
        load_and_check(project.root / "deploy" / "nope.yaml", project.out)


def test_yaml_syntax_error_names_the_line(project):
    project.write("profiles/batch.yaml", "name: batch\nbatching:\n  max_batch_size: [1,\n")
    with pytest.raises(ConfigErrors, match=r"batch\.yaml: `line \d+`: YAML syntax error"):
        load_and_check(project.deploy, project.out)


def test_set_option_errors_name_the_option(project):
    with pytest.raises(ConfigErrors, match=r"--set: `realtime.batching.max_batch_size`"):
        load_and_check(project.deploy, project.out, ["realtime.batching.max_batch_size=0"])
    with pytest.raises(ConfigErrors, match=r"expected <profile>\.<field path>=<value>"):
        load_and_check(project.deploy, project.out, ["realtime=3"])


def test_all_errors_reported_at_once(project):
    project.edit("profiles/batch.yaml", _set("batchng", {}))
    project.edit("profiles/realtime.yaml", _set("streaming", "yes"))
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(project.deploy, project.out)
    assert len(caught.value.errors) >= 2


GPU_CASES = [
    (
        "chunking-without-fmha",
        _set("overrides.batch.engine", {"paged_context_fmha": False}),
        "engine.enable_chunked_context",
        "needs paged context FMHA",
    ),
    (
        "world-size",
        _set("hardware.tensor_parallel", 2),
        "hardware.tensor_parallel",
        "exceeds the 1 GPU",
    ),
    ("no-gpus", _set("hardware.gpus", 0), "hardware.gpus", "needs GPUs"),
]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [case[1:] for case in GPU_CASES],
    ids=[case[0] for case in GPU_CASES],
)
def test_gpu_deploy_errors(project, change, field, words):
    deploy = project.edit("deploy/h100-llama8b.yaml", change)
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(deploy, project.out)
    messages = [str(e) for e in caught.value.errors]
    assert any(f"`{field}`" in m and words in m for m in messages), messages


def test_engine_config_cross_check(project):
    deploy = project.edit("deploy/h100-llama8b.yaml", _set("engines_dir", "../engines"))
    engine = project.root / "engines" / "batch"
    engine.mkdir(parents=True)
    (engine / "config.json").write_text(
        json.dumps(
            {
                "pretrained_config": {"mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}},
                "build_config": {
                    "max_batch_size": 16,
                    "max_input_len": 2048,
                    "max_seq_len": 4096,
                    "max_num_tokens": 8192,
                    "max_beam_width": 1,
                    "plugin_config": {"use_paged_context_fmha": False},
                },
            }
        )
    )
    with pytest.raises(ConfigErrors) as caught:
        load_and_check(deploy, project.out)
    text = str(caught.value)
    assert "`batching.max_batch_size`: 64 exceeds the engine's build_config.max_batch_size" in text
    assert "`hardware.tensor_parallel`" in text and "tp=2" in text
    assert "`engine.enable_chunked_context`" in text and "without paged context FMHA" in text


def test_errors_are_triton_sla_errors(project):
    project.edit("profiles/batch.yaml", _set("batchng", {}))
    with pytest.raises(TritonSlaError):
        load_and_check(project.deploy, project.out)


def test_valid_project_loads(project):
    dep = load_and_check(project.deploy, project.out)
    assert list(dep.profiles) == ["realtime", "interactive", "batch"]
    assert dep.profiles["interactive"].batching.max_batch_size == 16  # deploy override
    assert dep.profiles["interactive"].queue.max_queue_size == 256  # profile value kept
    assert isinstance(dep.deploy_file, Path)
