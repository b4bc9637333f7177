"""The llmapi engine kind: contract tensors -> SamplingParams arguments, responses, model.yaml."""

from __future__ import annotations

import numpy as np
import pytest

from tritonsla.cpu.errors import InvalidRequestError
from tritonsla.cpu.triton_io import request_from_tensors
from tritonsla.errors import ModelDataError
from tritonsla.llmapi.mapping import load_llm_config, response_event, sampling_kwargs


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
