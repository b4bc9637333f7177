"""Map the tensorrt_llm model contract onto TensorRT-LLM's LLM API (PyTorch backend).

Requests are parsed with the CPU engine's parser (one contract, one parser), then turned into
keyword arguments of `tensorrt_llm.llmapi.SamplingParams` (field names from its reference:
end_id, max_tokens, stop_token_ids, bad_token_ids, temperature, top_k, top_p, seed, min_tokens,
repetition/presence/frequency_penalty, logprobs). The LLM API takes stop and bad words as single
token ids; multi-token words are refused with a clear error rather than silently dropped.
`model.yaml` holds `LLM()` arguments plus a `triton_config` section that is Triton's, not the
LLM's (TensorRT-LLM's llmapi Triton model uses the same split).

Priority: the LLM API takes `LLM.generate_async(..., priority=p)` with p in [0, 1], higher served
first, default 0.5 (`DEFAULT_REQUEST_PRIORITY` in tensorrt_llm/executor/request.py, as the C++
executor's `Request::kDefaultPriority`), honoured only with `scheduler_config.
waiting_queue_policy: priority` (PriorityWaitingQueue; NVIDIA/TensorRT-LLM#12362, on main after
the 1.2 releases: older `generate_async` has no `priority` argument, so it is passed only when
that policy is set). Triton levels (1 highest) map evenly into (0, 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tritonsla.engine_request import GenerationRequest, InvalidRequestError, OutputEvent, WordList
from tritonsla.errors import ModelDataError
from tritonsla.paths import resolve_model_path

TRITON_ONLY_KEYS = ("triton_config",)
DEFAULT_LLM_PRIORITY = 0.5
"""tensorrt_llm.executor.request.DEFAULT_REQUEST_PRIORITY (NVIDIA/TensorRT-LLM#12362)."""


def _single_tokens(words: WordList, name: str) -> list[int]:
    multi = [list(word) for word in words if len(word) != 1]
    if multi:
        raise InvalidRequestError(
            f"`{name}` holds multi-token words {multi[:3]}; the LLM API engine accepts "
            "single-token words only"
        )
    return [word[0] for word in words]


def sampling_kwargs(request: GenerationRequest) -> dict[str, Any]:
    """SamplingParams keyword arguments equivalent to `request` (greedy when unset)."""
    s = request.sampling
    kwargs: dict[str, Any] = {
        "max_tokens": request.max_new_tokens,
        "temperature": s.temperature if not s.greedy else 0.0,
        "top_k": s.top_k or None,
        "top_p": s.top_p or None,
        "seed": s.seed,
        "min_tokens": s.min_tokens or None,
        "repetition_penalty": s.repetition_penalty,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
    }
    if request.end_id is not None:
        kwargs["end_id"] = request.end_id
    if request.stop_words:
        kwargs["stop_token_ids"] = _single_tokens(request.stop_words, "stop_words_list")
    if s.bad_words:
        kwargs["bad_token_ids"] = _single_tokens(s.bad_words, "bad_words_list")
    if request.return_log_probs:
        kwargs["logprobs"] = 1
    return {key: value for key, value in kwargs.items() if value is not None}


def priority_enabled(llm_args: dict[str, Any]) -> bool:
    """Whether the LLM orders its waiting queue by request priority."""
    scheduler = llm_args.get("scheduler_config") or {}
    return scheduler.get("waiting_queue_policy", "fcfs") == "priority"


def llm_priority(priority: int, levels: int, default_level: int) -> float:
    """The LLM API priority of a request with Triton `priority` (0 = `default_level`).

    Level k of L maps to (L - k + 1) / (L + 1): 1 is the highest, the middle level of an odd L
    is the LLM API default 0.5, and no level reaches 0 or 1. Without levels: the default.
    """
    if not levels:
        return DEFAULT_LLM_PRIORITY
    level = priority or default_level
    return (levels - level + 1) / (levels + 1)


def load_llm_config(model_yaml: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(LLM() keyword arguments, triton_config) from a rendered model.yaml."""
    try:
        data = yaml.safe_load(model_yaml.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ModelDataError(f"{model_yaml}: cannot read LLM arguments: {error}") from error
    if not isinstance(data, dict) or "model" not in data:
        raise ModelDataError(f"{model_yaml}: expected a mapping with `model`; re-render it")
    llm_args = {k: v for k, v in data.items() if k not in TRITON_ONLY_KEYS}
    return resolve_llm_paths(llm_args, model_yaml.parent.parent), data.get("triton_config", {})


def resolve_llm_paths(llm_args: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """`model` and the draft model as absolute paths: the repository stores paths below its
    parent folder relative to it (tritonsla.paths), the LLM would read them from its cwd."""
    resolved = {**llm_args, "model": str(resolve_model_path(str(llm_args["model"]), model_dir))}
    spec = llm_args.get("speculative_config")
    if isinstance(spec, dict) and spec.get("speculative_model"):
        draft = resolve_model_path(str(spec["speculative_model"]), model_dir)
        resolved["speculative_config"] = {**spec, "speculative_model": str(draft)}
    return resolved


def response_event(
    request: GenerationRequest, token_ids: list[int], sent: int, finished: bool
) -> tuple[OutputEvent | None, int]:
    """The response to send for the LLM's cumulative `token_ids`, and the new sent count.

    Streaming sends only tokens not sent before; non-streaming sends once, when finished, the
    whole output (prompt first unless exclude_input_in_output), as the tensorrt_llm model does.
    """
    if request.streaming:
        new = tuple(token_ids[sent:])
        if not new:
            return None, sent
        return OutputEvent(request.request_id, new, (0.0,) * len(new), 0.0, False), len(token_ids)
    if not finished:
        return None, sent
    ids = tuple(token_ids)
    if not request.exclude_input_in_output:
        ids = (*request.input_ids, *ids)
    return OutputEvent(request.request_id, ids, (0.0,) * len(token_ids), 0.0, False), len(ids)
