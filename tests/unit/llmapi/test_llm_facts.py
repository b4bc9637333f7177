"""Rendered llmapi model.yaml files against the facts table of TensorRT-LLM's llm_args.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from tritonsla.errors import RenderError
from tritonsla.llmapi.facts import FACTS_FILE, check_llm_config, load_facts
from tritonsla.repo.pipeline import check_llm_arguments, render

ROOT = Path(__file__).resolve().parents[3]
TWIN = "deploy/h100-llama8b-llmapi.yaml"
PROFILES = ("realtime", "interactive", "batch")


def _model_yamls(project, *sets: str, deploy: str = TWIN) -> dict[str, dict]:
    result = render(project.root / deploy, project.out, sets=list(sets), check=True)
    return {
        path.split("/")[0]: yaml.safe_load(data)
        for path, data in result.plan.items()
        if path.endswith("/model.yaml")
    }


def test_facts_name_their_source_file_and_commit():
    facts = load_facts()
    assert facts.source["repository"] == "NVIDIA/TensorRT-LLM"
    assert facts.source["file"] == "tensorrt_llm/llmapi/llm_args.py"
    assert len(facts.source["commit"]) == 40
    assert "0004396720054fd8e205cbf616f21f0b57c6b412" in FACTS_FILE.read_text()


def test_every_profile_of_the_llmapi_twin_passes_the_facts_check(project):
    rendered = _model_yamls(project)
    assert set(rendered) == {f"{p}_tensorrt_llm" for p in PROFILES}
    for data in rendered.values():
        assert check_llm_config(data) == []


@pytest.mark.parametrize(
    ("precision", "method", "backend"),
    list(
        itertools.product(
            ("fp32", "fp16", "bf16", "fp8", "int8", "int4"),
            ("none", "ngram", "eagle3", "draft_target"),
            ("TRTLLM", "FLASHINFER", "VANILLA"),
        )
    ),
)
def test_every_knob_combination_passes_the_facts_check(project, precision, method, backend):
    sets = [
        f"batch.engine.precision={precision}",
        f"batch.engine.speculative.method={method}",
        f"batch.engine.attention_backend={backend}",
        "batch.engine.waiting_queue_policy=priority",
        "batch.engine.kv_cache.max_tokens=100000",
    ]
    if method in ("eagle3", "draft_target"):
        sets.append("batch.engine.speculative.draft_model=/models/draft")
    data = _model_yamls(project, *sets)["batch_tensorrt_llm"]
    assert check_llm_config(data) == []


def test_shared_engine_layout_passes_the_facts_check(project):
    def shared(d: dict) -> None:
        same = {"engine": {"precision": "fp8", "max_input_len": 2048, "max_seq_len": 4096}}
        d.update(layout="shared", shared_engine={"max_batch_size": 64})
        d["overrides"] = {name: {**d["overrides"][name], **same} for name in PROFILES}

    project.edit(TWIN, shared)
    rendered = _model_yamls(project)
    assert list(rendered) == ["tensorrt_llm"]
    data = rendered["tensorrt_llm"]
    assert data["scheduler_config"]["waiting_queue_policy"] == "priority"
    assert check_llm_config(data) == []


def _valid() -> dict:
    return {
        "model": "/m",
        "max_batch_size": 8,
        "kv_cache_config": {"free_gpu_memory_fraction": 0.5},
        "triton_config": {"max_batch_size": 0, "decoupled": True},
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(max_batch_sizes=8), "`max_batch_sizes` is not a field of TorchLlmArgs"),
        (lambda d: d.update(max_batch_size=0), "`max_batch_size` = 0 is below the minimum 1"),
        (lambda d: d.update(max_batch_size="8"), "`max_batch_size` = '8' is not an integer"),
        (lambda d: d.update(enable_chunked_prefill=1), "is not a boolean"),
        (lambda d: d.update(attn_backend="FLASH"), "`attn_backend` = 'FLASH' is not allowed"),
        (
            lambda d: d["kv_cache_config"].update(free_gpu_memory_fraction=1.5),
            "`kv_cache_config.free_gpu_memory_fraction` = 1.5 is above the maximum 1.0",
        ),
        (
            lambda d: d["kv_cache_config"].update(dtype="int8"),
            "`kv_cache_config.dtype` = 'int8' is not allowed",
        ),
        (
            lambda d: d.update(scheduler_config={"waiting_queue_policy": "lifo"}),
            "`scheduler_config.waiting_queue_policy` = 'lifo' is not allowed. Available: fcfs",
        ),
        (
            lambda d: d.update(scheduler_config={"capacity_scheduler_policy": "max_utilization"}),
            "'max_utilization' is not allowed. Available: MAX_UTILIZATION",
        ),
        (
            lambda d: d.update(speculative_config={"decoding_type": "Medusa"}),
            "'Medusa' is not a SpeculativeConfig type",
        ),
        (
            lambda d: d.update(speculative_config={"decoding_type": "MTP", "max_draft_len": 1}),
            "'MTP': the release has it, but its fields are not in the facts table",
        ),
        (
            lambda d: d.update(speculative_config={"decoding_type": "Eagle3", "max_draft_len": 3}),
            "`speculative_config.speculative_model` is required by Eagle3DecodingConfig",
        ),
        (
            lambda d: d.update(speculative_config={"decoding_type": "NGram", "max_draft_len": 0}),
            "`speculative_config.max_draft_len` = 0 is below the minimum 1",
        ),
        (
            lambda d: d.update(cuda_graph_config={"batch_sizes": []}),
            "`cuda_graph_config.batch_sizes` = [] is not a non-empty list of integers",
        ),
        (lambda d: d.update(moe_config={}), "`moe_config`: the release has this field, but"),
        (lambda d: d.pop("model"), "`model` is required by TorchLlmArgs"),
        (
            lambda d: d["triton_config"].update(decoupled="yes"),
            "`triton_config.decoupled` = 'yes' is not a boolean",
        ),
        (
            lambda d: d["triton_config"].update(dynamic=True),
            "`triton_config.dynamic` is not a field",
        ),
    ],
)
def test_checker_refuses_what_the_release_would(change, message):
    data = _valid()
    assert check_llm_config(data) == []
    change(data)
    problems = check_llm_config(data)
    assert any(message in problem for problem in problems), problems


def test_render_refuses_a_model_yaml_outside_the_facts():
    good = yaml.safe_dump(_valid()).encode()
    bad = yaml.safe_dump({**_valid(), "enable_overlap": True}).encode()
    check_llm_arguments({"a_tensorrt_llm/1/model.yaml": good, "a_tensorrt_llm/config.pbtxt": b"x"})
    with pytest.raises(RenderError) as error:
        check_llm_arguments({"b_tensorrt_llm/1/model.yaml": bad})
    message = str(error.value)
    assert "b_tensorrt_llm/1/model.yaml: `enable_overlap` is not a field of TorchLlmArgs" in message
    assert "NVIDIA/TensorRT-LLM@000439672005" in message
