"""The llmapi engine kind: contract tensors -> SamplingParams arguments, responses, model.yaml."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tritonsla.cpu.errors import InvalidRequestError
from tritonsla.cpu.triton_io import request_from_tensors
from tritonsla.errors import ModelDataError
from tritonsla.llmapi.mapping import (
    DEFAULT_LLM_PRIORITY,
    llm_priority,
    load_llm_config,
    priority_enabled,
    response_event,
    sampling_kwargs,
)
from tritonsla.repo.render import template_environment

ROOT = Path(__file__).resolve().parents[3]


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
            random_seed=np.array([3], np.uint64),
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


def _render_model_yaml(tmp_path: Path, **engine) -> Path:
    env = template_environment(ROOT / "templates")
    kv = SimpleNamespace(free_gpu_mem_fraction=0.9, enable_reuse=True, max_tokens=None)
    e = SimpleNamespace(
        precision="fp16",
        max_num_tokens=8192,
        max_seq_len=2048,
        max_beam_width=1,
        enable_chunked_context=False,
        kv_cache=kv,
        batch_scheduler_policy="max_utilization",
        **engine,
    )
    profile = SimpleNamespace(
        name="shared", engine=e, batching=SimpleNamespace(max_batch_size=64), decoupled=True
    )
    text = env.get_template("llmapi_model.yaml.j2").render(
        header="test",
        profile=profile,
        paths={"checkpoint": "/ckpt"},
        deploy=SimpleNamespace(hardware=SimpleNamespace(tensor_parallel=1, pipeline_parallel=1)),
    )
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("engine", "enabled"),
    [
        ({"waiting_queue_policy": "priority"}, True),
        ({"waiting_queue_policy": "fcfs"}, False),
        ({}, False),  # a profile schema without the field renders as before
    ],
)
def test_model_yaml_carries_waiting_queue_policy_only_for_priority(
    tmp_path: Path, engine: dict, enabled: bool
) -> None:
    llm_args, _ = load_llm_config(_render_model_yaml(tmp_path, **engine))
    scheduler = llm_args["scheduler_config"]
    assert scheduler["capacity_scheduler_policy"] == "MAX_UTILIZATION"
    assert ("waiting_queue_policy" in scheduler) is enabled
    assert priority_enabled(llm_args) is enabled
