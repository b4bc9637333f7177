"""Profile knobs -> LLM() arguments of the llmapi engine kind."""

from __future__ import annotations

import pytest
import yaml

from tritonsla.errors import ConfigErrors
from tritonsla.llmapi.arguments import cuda_graph_batch_sizes
from tritonsla.repo.pipeline import render

TWIN = "deploy/h100-llama8b-llmapi.yaml"


def _llm_args(project, *sets: str, deploy: str = TWIN) -> dict[str, dict]:
    result = render(project.root / deploy, project.out, sets=list(sets), check=True)
    return {
        path.split("_tensorrt_llm")[0]: yaml.safe_load(data)
        for path, data in result.plan.items()
        if path.endswith("/model.yaml")
    }


def test_profile_sizes_scheduler_and_kv_cache_map_onto_llm_arguments(project):
    args = _llm_args(project)
    batch, realtime = args["batch"], args["realtime"]
    assert (batch["max_batch_size"], batch["max_num_tokens"], batch["max_seq_len"]) == (
        64,
        8192,
        4096,
    )
    assert (batch["max_input_len"], batch["max_beam_width"]) == (2048, 1)
    assert batch["enable_chunked_prefill"] is True
    assert batch["scheduler_config"] == {"capacity_scheduler_policy": "MAX_UTILIZATION"}
    assert batch["kv_cache_config"] == {
        "free_gpu_memory_fraction": 0.45,
        "enable_block_reuse": False,
        "tokens_per_block": 32,
    }
    assert realtime["scheduler_config"]["capacity_scheduler_policy"] == "GUARANTEED_NO_EVICT"
    assert realtime["kv_cache_config"]["enable_block_reuse"] is True
    assert batch["triton_config"] == {"max_batch_size": 0, "decoupled": True}
    assert batch["backend"] == "pytorch" and batch["attn_backend"] == "TRTLLM"


def test_precision_picks_dtype_or_the_modelopt_checkpoint(project):
    args = _llm_args(project, "interactive.engine.precision=bf16", "batch.engine.precision=int4")
    realtime, interactive, batch = args["realtime"], args["interactive"], args["batch"]
    assert realtime["model"] == "/engines/_checkpoints/hf-fp8"
    assert realtime["dtype"] == "auto" and realtime["kv_cache_config"]["dtype"] == "fp8"
    assert interactive["model"] == "/models/Llama-3.1-8B-Instruct"
    assert interactive["dtype"] == "bfloat16" and "dtype" not in interactive["kv_cache_config"]
    assert batch["model"] == "/engines/_checkpoints/hf-int4_awq"
    assert "dtype" not in batch["kv_cache_config"], "int4 AWQ keeps the checkpoint's KV cache"


def test_cuda_graph_batch_sizes_come_from_the_preferred_sizes(project):
    args = _llm_args(project, "batch.batching.preferred_batch_sizes=[24,48]")
    assert args["batch"]["cuda_graph_config"] == {
        "batch_sizes": [1, 2, 4, 8, 16, 24, 32, 48, 64],
        "enable_padding": True,
    }
    assert args["realtime"]["cuda_graph_config"]["batch_sizes"] == [1, 2, 4]


@pytest.mark.parametrize(
    ("max_batch", "preferred", "expected"),
    [
        (1, [], [1]),
        (4, [], [1, 2, 4]),
        (6, [], [1, 2, 4, 6]),
        (32, [8, 16, 32], [1, 2, 4, 8, 16, 32]),
    ],
)
def test_cuda_graph_batch_sizes(max_batch, preferred, expected):
    assert cuda_graph_batch_sizes(max_batch, preferred) == expected


def test_speculative_decoding_is_opt_in_and_maps_per_method(project):
    args = _llm_args(
        project,
        "interactive.engine.speculative.method=eagle3",
        "interactive.engine.speculative.draft_model=../drafts/eagle3-llama8b",
        "interactive.engine.speculative.max_draft_len=3",
    )
    assert args["realtime"]["speculative_config"] == {
        "decoding_type": "NGram",
        "max_draft_len": 4,
        "max_matching_ngram_size": 2,
        "max_concurrency": 4,
    }
    assert args["interactive"]["speculative_config"] == {
        "decoding_type": "Eagle3",
        "max_draft_len": 3,
        "speculative_model": "drafts/eagle3-llama8b",
    }
    assert "speculative_config" not in args["batch"]


@pytest.mark.parametrize(
    ("sets", "field", "message"),
    [
        (
            ["batch.engine.speculative.method=draft_target"],
            "batch.engine.speculative",
            "`draft_model` is required by method draft_target",
        ),
        (
            ["batch.engine.speculative.draft_model=/d"],
            "batch.engine.speculative",
            "`draft_model` is set but method none uses none",
        ),
        (
            ["batch.engine.speculative.method=ngram", "batch.engine.max_beam_width=2"],
            "engine.max_beam_width",
            "the LLM API speculates only for beam width 1",
        ),
        (["batch.engine.speculative.max_draft_len=0"], "max_draft_len", "greater than or equal"),
        (["batch.engine.attention_backend=flash"], "attention_backend", "Input should be"),
    ],
)
def test_bad_llmapi_knobs_are_refused_naming_the_field(project, sets, field, message):
    with pytest.raises(ConfigErrors) as error:
        render(project.root / TWIN, project.out, sets=sets, check=True)
    text = str(error.value)
    assert f"`{field}" in text or field in text
    assert message in text


def test_llmapi_knobs_are_refused_on_other_engine_kinds(project):
    with pytest.raises(ConfigErrors) as error:
        render(
            project.deploy,
            project.out,
            sets=[
                "batch.engine.speculative.method=ngram",
                "batch.engine.attention_backend=VANILLA",
            ],
            check=True,
        )
    text = str(error.value)
    assert (
        "`batch.engine.speculative.method`: speculative decoding (ngram) is rendered only" in text
    )
    assert "`batch.engine.attention_backend`: VANILLA is an LLM API choice" in text


@pytest.mark.parametrize(
    ("gpu", "refused"), [("A100-SXM-80GB", True), ("H100-SXM-80GB", False), ("L40S", False)]
)
def test_fp8_is_refused_on_gpus_without_it(project, gpu, refused):
    project.edit(TWIN, lambda d: d["hardware"].update(gpu_type=gpu))
    if not refused:
        render(project.root / TWIN, project.out, check=True)
        return
    with pytest.raises(ConfigErrors, match=r"`overrides.realtime.engine.precision`: fp8 needs"):
        render(project.root / TWIN, project.out, check=True)
