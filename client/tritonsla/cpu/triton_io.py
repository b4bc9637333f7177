"""Tensors of the `tensorrt_llm` model contract <-> engine requests and events, as plain numpy.

Inputs arrive as Triton hands them to a Python model: with the batch dimension, so `input_ids`
is `[1, L]`, scalars `[1]` or `[1, 1]`, and word lists `[1, 2, N]` (TensorRT-LLM's format: flat
token ids, then the end offset of each word, padded with -1). One sequence per request (batch 1)
and beam width 1 are supported; `pad_id` and `len_penalty` only matter for beams and padding
and are accepted and ignored. `priority` is the request's Triton priority level (1 highest,
0 = the model's default), checked against the model's `priority_levels`. Outputs follow
TensorRT-LLM's Triton model: `output_ids` `[1, beam, tokens]`, `sequence_length` `[1, beam]`
(tokens in this response), `cum_log_probs` `[1, beam]`, `output_log_probs`
`[1, beam, generated tokens]` (zeros unless `return_log_probs`). Every response also echoes the
request's `stream_key` with `is_final`, for postprocessing (see tritonsla.contract).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import numpy as np

from tritonsla.contract import STREAM_KEY_ENGINE_INPUTS, TENSORRT_LLM_INPUTS
from tritonsla.engine_request import (
    GenerationRequest,
    InvalidRequestError,
    OutputEvent,
    SamplingParams,
    WordList,
    check_priority,
)

INPUT_NAMES: tuple[str, ...] = tuple(
    spec.name for spec in TENSORRT_LLM_INPUTS + STREAM_KEY_ENGINE_INPUTS
)


def stream_key_of(tensors: Mapping[str, np.ndarray]) -> bytes:
    """The request's `stream_key` (b"" when it has none, as from the BLS)."""
    key = tensors.get("stream_key")
    if key is None or key.size == 0:
        return b""
    value = key.reshape(-1)[0]
    return value if isinstance(value, bytes) else str(value).encode()


def request_from_tensors(
    request_id: Hashable,
    tensors: Mapping[str, np.ndarray],
    callback: Callable[[OutputEvent], None],
    *,
    exclude_input_in_output: bool = False,
    is_cancelled: Callable[[], bool] | None = None,
    priority_levels: int = 0,
) -> GenerationRequest:
    """Build a GenerationRequest from a request's input tensors.

    `exclude_input_in_output` is the model's default, used when the request does not set it;
    `priority_levels` is the model's (0 = none, and `priority` is then ignored).
    """
    if "input_ids" not in tensors:
        raise InvalidRequestError("input `input_ids` is required")
    ids = np.asarray(tensors["input_ids"])
    if ids.ndim == 2:
        if ids.shape[0] != 1:
            raise InvalidRequestError(
                f"`input_ids` has batch size {ids.shape[0]}; send one sequence per request"
            )
        ids = ids[0]
    if ids.ndim != 1:
        raise InvalidRequestError(f"`input_ids` has shape {ids.shape}; expected [1, tokens]")
    length = _scalar(tensors, "input_lengths", int)
    if length is not None:
        ids = ids[:length]
    max_new_tokens = _scalar(tensors, "request_output_len", int)
    if max_new_tokens is None:
        raise InvalidRequestError("input `request_output_len` is required")
    beam_width = _scalar(tensors, "beam_width", int)
    if beam_width not in (None, 1):
        raise InvalidRequestError(f"`beam_width` {beam_width} is not supported; use 1")
    exclude = _scalar(tensors, "exclude_input_in_output", bool)
    priority = int(_scalar(tensors, "priority", int) or 0)
    check_priority(priority, priority_levels)
    return GenerationRequest(
        request_id=request_id,
        input_ids=tuple(int(t) for t in ids),
        max_new_tokens=max_new_tokens,
        callback=callback,
        end_id=_scalar(tensors, "end_id", int),
        streaming=bool(_scalar(tensors, "streaming", bool)),
        exclude_input_in_output=exclude_input_in_output if exclude is None else exclude,
        return_log_probs=bool(_scalar(tensors, "return_log_probs", bool)),
        sampling=_sampling(tensors),
        stop_words=word_list(tensors.get("stop_words_list"), "stop_words_list"),
        is_cancelled=is_cancelled,
        priority=priority,
    )


def event_to_tensors(event: OutputEvent, stream_key: bytes = b"") -> dict[str, np.ndarray]:
    """Output tensors of one response (batch 1, beam 1), with the request's stream key."""
    n_tokens = len(event.token_ids)
    return {
        "output_ids": np.asarray(event.token_ids, np.int32).reshape(1, 1, n_tokens),
        "sequence_length": np.full((1, 1), n_tokens, np.int32),
        "cum_log_probs": np.full((1, 1), event.cum_log_prob, np.float32),
        "output_log_probs": np.asarray(event.log_probs, np.float32).reshape(1, 1, -1),
        "stream_key": np.array([[stream_key]], dtype=np.object_),
        "is_final": np.array([[event.final]], dtype=bool),
    }


def word_list(tensor: np.ndarray | None, name: str) -> WordList:
    """Decode a TensorRT-LLM word list `[1, 2, N]` (or `[2, N]`) into token-id tuples."""
    if tensor is None or tensor.size == 0:
        return ()
    array = np.asarray(tensor)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[0] != 2:
        raise InvalidRequestError(
            f"`{name}` has shape {tensor.shape}; expected [1, 2, N] (ids, then end offsets)"
        )
    ids, offsets = array.tolist()
    words, start = [], 0
    for end in offsets:
        if end < 0:
            break
        if not start < end <= len(ids):
            raise InvalidRequestError(f"`{name}` has offset {end} outside ({start}, {len(ids)}]")
        words.append(tuple(ids[start:end]))
        start = end
    return tuple(words)


def _sampling(tensors: Mapping[str, np.ndarray]) -> SamplingParams:
    values = {
        "temperature": _scalar(tensors, "temperature", float),
        "top_k": _scalar(tensors, "runtime_top_k", int),
        "top_p": _scalar(tensors, "runtime_top_p", float),
        "seed": _scalar(tensors, "seed", int),
        "repetition_penalty": _scalar(tensors, "repetition_penalty", float),
        "presence_penalty": _scalar(tensors, "presence_penalty", float),
        "frequency_penalty": _scalar(tensors, "frequency_penalty", float),
        "min_tokens": _scalar(tensors, "min_tokens", int),
    }
    bad_words = word_list(tensors.get("bad_words_list"), "bad_words_list")
    return SamplingParams(**{k: v for k, v in values.items() if v is not None}, bad_words=bad_words)


def _scalar(tensors: Mapping[str, np.ndarray], name: str, kind: type) -> int | float | bool | None:
    tensor = tensors.get(name)
    if tensor is None:
        return None
    if np.size(tensor) != 1:
        raise InvalidRequestError(f"`{name}` must hold one value, got shape {np.shape(tensor)}")
    return kind(np.asarray(tensor).reshape(-1)[0].item())
