"""Tensor names pinned to TensorRT-LLM's Triton backend: the C++ `tensorrtllm` backend reads its
inputs by name and ignores any other, so a name that drifts from upstream is a request setting
silently dropped on GPU (as `random_seed` and `min_length` were: upstream renamed them `seed`
and `min_tokens` in TensorRT-LLM commit ca1041fab41fe467e8b00ab9e6f46fe0b873d879, May 2025,
before the backend moved into TensorRT-LLM's triton_backend/; the 1.2.x line pinned for
trt-engine reads only the new names). Sources: docs/upstream-facts.md."""

from __future__ import annotations

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from tritonsla import contract
from tritonsla.repo.pipeline import render
from tritonsla.repo.render import parse_config

# Inputs the C++ backend reads: `InputFieldsNames` in triton_backend/inflight_batcher_llm/src/
# utils.h (NVIDIA/TensorRT-LLM, commit 14c3afecc065a0dc44ec18332fd5ed1e632002d4), plus its
# `stop` and `streaming` tensors; only the names this project's contract can use are listed.
BACKEND_READS = frozenset(
    {
        "input_ids",
        "input_lengths",
        "request_output_len",
        "end_id",
        "pad_id",
        "bad_words_list",
        "stop_words_list",
        "return_log_probs",
        "exclude_input_in_output",
        "beam_width",
        "runtime_top_k",
        "runtime_top_p",
        "temperature",
        "len_penalty",
        "repetition_penalty",
        "min_tokens",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "stop",
        "streaming",
    }
)
OUR_ADDITIONS = frozenset({"priority"})
"""Engine inputs of this project that upstream does not have (read by the Python engines)."""

# Client-facing inputs of upstream's ensemble and BLS (all_models/inflight_batcher_llm/
# {ensemble,tensorrt_llm_bls}/config.pbtxt, commits 2a9abd9536aa62ad3e4b9314be9286b1b1be523b and
# 0193dbd4189221d0fd5e9f20cdb384d3da8dbc24), as far as this contract uses them.
UPSTREAM_CLIENT_INPUTS = frozenset(
    {
        "text_input",
        "max_tokens",
        "bad_words",
        "stop_words",
        "end_id",
        "pad_id",
        "top_k",
        "top_p",
        "temperature",
        "length_penalty",
        "repetition_penalty",
        "min_tokens",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "return_log_probs",
        "beam_width",
        "stream",
        "exclude_input_in_output",
    }
)


def test_engine_inputs_are_names_the_backend_reads():
    names = {spec.name for spec in contract.TENSORRT_LLM_INPUTS}
    assert names - OUR_ADDITIONS <= BACKEND_READS
    assert {spec.name for spec in contract.ENSEMBLE_INPUTS} <= UPSTREAM_CLIENT_INPUTS


def _inputs(out, model: str) -> dict[str, mc.ModelInput]:
    config = parse_config(model, (out / model / "config.pbtxt").read_bytes())
    return {spec.name: spec for spec in config.input}


@pytest.mark.parametrize("kind", ["trt-engine", "llmapi", "cpu"])
def test_rendered_models_use_seed_and_min_tokens(project, kind):
    deploy = "cpu.yaml" if kind == "cpu" else "h100-llama8b.yaml"
    path = project.edit(f"deploy/{deploy}", lambda d: d.update(engine_kind=kind))
    render(path, project.out)
    engine = _inputs(project.out, "batch_tensorrt_llm")
    assert engine["seed"].data_type == mc.TYPE_UINT64
    assert engine["min_tokens"].data_type == mc.TYPE_INT32
    assert list(engine["seed"].reshape.shape) == list(engine["min_tokens"].reshape.shape) == []
    for model in ("batch_ensemble", "batch_tensorrt_llm_bls"):
        assert {"seed", "min_tokens"} <= set(_inputs(project.out, model))
    for model in ("batch_tensorrt_llm", "batch_ensemble", "batch_tensorrt_llm_bls"):
        assert not {"random_seed", "min_length"} & set(_inputs(project.out, model))
    ensemble = parse_config(
        "batch_ensemble", (project.out / "batch_ensemble" / "config.pbtxt").read_bytes()
    )
    step = next(
        s for s in ensemble.ensemble_scheduling.step if s.model_name == "batch_tensorrt_llm"
    )
    assert (step.input_map["seed"], step.input_map["min_tokens"]) == ("seed", "min_tokens")
