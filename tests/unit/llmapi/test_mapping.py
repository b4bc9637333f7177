"""The llmapi engine kind: contract tensors -> SamplingParams arguments, responses, model.yaml."""

from __future__ import annotations

import numpy as np
import pytest

from tritonsla.cpu.triton_io import request_from_tensors
from tritonsla.engine_request import InvalidRequestError
from tritonsla.errors import ModelDataError
from tritonsla.llmapi.mapping import (
    DEFAULT_LLM_PRIORITY,
    llm_priority,
    load_llm_config,
    priority_enabled,
    response_event,
    sampling_kwargs,
)
from tritonsla.repo.pipeline import render


def _request(streaming: bool = False, exclude: bool = False, **extra):
    tensors = {
        "input_ids": np.array([[5, 6, 7]], np.int32),
        "input_lengths": np.array([3], np.int32),
        "request_output_len": np.array([4], np.int32),
        "streaming": np.array([[streaming]]),
        **extra,
    }
    return request_from_tensors("r1", tensors, lambda e: None, exclude_input_in_output=exclude)


def test_greedy_by_default():
    kwargs = sampling_kwargs(_request())
    assert kwargs["max_tokens"] == 4 and kwargs["temperature"] == 0.0
    assert "top_k" not in kwargs and "logprobs" not in kwargs


def test_sampling_and_words_map_to_llm_fields():
    words = np.array([[[9, 11], [1, 2]]], np.int32)  # two single-token words: 9 and 11
    kwargs = sampling_kwargs(
        _request(
            temperature=np.array([0.7], np.float32),
            runtime_top_k=np.array([40], np.int32),
            seed=np.array([3], np.uint64),
            end_id=np.array([2], np.int32),
            stop_words_list=words,
            return_log_probs=np.array([True]),
        )
    )
    assert kwargs["temperature"] == pytest.approx(0.7) and kwargs["top_k"] == 40
    assert kwargs["seed"] == 3 and kwargs["end_id"] == 2
    assert kwargs["stop_token_ids"] == [9, 11] and kwargs["logprobs"] == 1


def test_multi_token_stop_words_are_refused():
    words = np.array([[[9, 11], [2, -1]]], np.int32)
    with pytest.raises(InvalidRequestError, match="single-token words only"):
        sampling_kwargs(_request(stop_words_list=words))


def test_streaming_sends_only_new_tokens():
    request = _request(streaming=True)
    first, sent = response_event(request, [1, 2], 0, False)
    second, sent = response_event(request, [1, 2, 3], sent, True)
    assert first.token_ids == (1, 2) and second.token_ids == (3,) and sent == 3
    assert response_event(request, [1, 2, 3], sent, True) == (None, 3)


def test_non_streaming_sends_once_with_prompt_unless_excluded():
    assert response_event(_request(), [1, 2], 0, False) == (None, 0)
    whole, _ = response_event(_request(), [1, 2], 0, True)
    assert whole.token_ids == (5, 6, 7, 1, 2)
    only_new, _ = response_event(_request(exclude=True), [1, 2], 0, True)
    assert only_new.token_ids == (1, 2)


def test_model_yaml_split(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("model: /m\nmax_batch_size: 8\ntriton_config:\n  decoupled: true\n")
    llm_args, triton = load_llm_config(path)
    assert llm_args == {"model": "/m", "max_batch_size": 8} and triton == {"decoupled": True}
    path.write_text("- not a mapping\n")
    with pytest.raises(ModelDataError, match="expected a mapping"):
        load_llm_config(path)


@pytest.mark.parametrize(
    ("priority", "levels", "default", "expected"),
    [
        (1, 3, 2, 0.75),
        (2, 3, 2, 0.5),
        (3, 3, 2, 0.25),
        (0, 3, 2, 0.5),  # 0: the default level
        (0, 3, 3, 0.25),
        (1, 1, 1, 0.5),
        (1, 2, 1, 2 / 3),
        (2, 0, 0, DEFAULT_LLM_PRIORITY),  # no levels
    ],
)
def test_triton_levels_map_into_the_llm_api_priority_range(
    priority: int, levels: int, default: int, expected: float
) -> None:
    assert llm_priority(priority, levels, default) == pytest.approx(expected)


def test_llm_priority_keeps_the_order_of_levels() -> None:
    values = [llm_priority(level, 5, 3) for level in range(1, 6)]
    assert values == sorted(values, reverse=True) and 0 < values[-1] < values[0] < 1


def _rendered_llm_args(project, *sets: str) -> dict:
    """The batch endpoint's model.yaml of the llmapi twin, as the model reads it."""
    out = project.root / "repo"
    render(project.root / "deploy/h100-llama8b-llmapi.yaml", out, sets=list(sets))
    llm_args, _ = load_llm_config(out / "batch_tensorrt_llm" / "1" / "model.yaml")
    return llm_args


@pytest.mark.parametrize(
    ("policy", "enabled"),
    [("priority", True), ("fcfs", False)],
)
def test_model_yaml_carries_waiting_queue_policy_only_for_priority(
    project, policy: str, enabled: bool
) -> None:
    llm_args = _rendered_llm_args(project, f"batch.engine.waiting_queue_policy={policy}")
    scheduler = llm_args["scheduler_config"]
    assert scheduler["capacity_scheduler_policy"] == "MAX_UTILIZATION"
    assert ("waiting_queue_policy" in scheduler) is enabled
    assert priority_enabled(llm_args) is enabled


def test_relative_model_and_draft_paths_resolve_against_the_repository_parent(tmp_path):
    model_yaml = tmp_path / "repo" / "batch_tensorrt_llm" / "1" / "model.yaml"
    model_yaml.parent.mkdir(parents=True)
    model_yaml.write_text(
        "model: assets/m\nspeculative_config:\n  decoding_type: Eagle3\n"
        "  speculative_model: assets/draft\n  max_draft_len: 3\n"
    )
    llm_args, _ = load_llm_config(model_yaml)
    assert llm_args["model"] == str(tmp_path / "assets" / "m")
    assert llm_args["speculative_config"]["speculative_model"] == str(tmp_path / "assets/draft")
    assert llm_args["speculative_config"]["max_draft_len"] == 3
    model_yaml.write_text("model: /abs/m\n")
    assert load_llm_config(model_yaml)[0] == {"model": "/abs/m"}
