"""The BLS model's logic: preprocessing, then the engine, then UTF-8 safe detokenization.

Triton-free: the inner models are reached through an `Infer` callable (the Triton adapter wraps
`pb_utils.InferenceRequest`), so the orchestration is unit-tested in process. Tensor names are
wired from `tritonsla.contract.ENSEMBLE_STEPS`, so the BLS feeds the engine exactly what the
ensemble does. Unlike the ensemble, the BLS sees the whole stream and detokenizes it itself, so
no character is ever split, and it passes the client's request id and timeout on to the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from tritonsla.contract import (
    ENSEMBLE_STEPS,
    PREPROCESSING_OUTPUTS,
    TENSORRT_LLM_OUTPUTS,
    EnsembleStep,
)
from tritonsla.errors import TritonSlaError
from tritonsla.text.detokenize import IncrementalDetokenizer
from tritonsla.text.tokenizer import TextTokenizer

Tensors = Mapping[str, np.ndarray]


class InnerModelError(TritonSlaError):
    """A model the BLS calls answered with an error (or not at all)."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(f"model {model!r} failed: {message}")


class RequestCancelled(TritonSlaError):
    """The client cancelled the request; the BLS stopped reading the engine's responses."""


@dataclass(frozen=True)
class InnerRequest:
    """One request of the BLS to a composing model."""

    model: str
    inputs: dict[str, np.ndarray]
    outputs: tuple[str, ...]
    decoupled: bool
    request_id: str
    timeout_us: int


Infer = Callable[[InnerRequest], Iterable[Tensors]]
"""Runs an inner request; yields the output tensors of each response, raises InnerModelError."""


@dataclass(frozen=True)
class BlsModels:
    """Names of the models the BLS calls (parameters of its config)."""

    preprocessing: str
    tensorrt_llm: str


@dataclass(frozen=True)
class ClientRequest:
    """What the BLS knows of its client's request: ensemble-named inputs and queue controls.

    `timeout_us` is the client's queue timeout (0: none). Priority cannot be passed on: the
    Python backend of Triton 2.51 neither reads a request's priority nor sets one on a BLS
    request.
    """

    inputs: Tensors
    request_id: str = ""
    timeout_us: int = 0


def generate(
    models: BlsModels,
    request: ClientRequest,
    infer: Infer,
    tokenizer: TextTokenizer,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, np.ndarray]]:
    """Serve one client request; yields the BLS responses (ensemble output names).

    Streaming yields text as characters complete; otherwise one response per engine response.
    Raises ValueError for a request the BLS cannot serve, InnerModelError, RequestCancelled.
    """
    inputs = request.inputs
    if inputs["text_input"].shape[0] != 1:
        raise ValueError(
            f"the BLS model takes one prompt per request; got a batch of "
            f"{inputs['text_input'].shape[0]}"
        )
    streaming = _scalar(inputs, "stream", False)
    if streaming and _scalar(inputs, "beam_width", 1) > 1:
        raise ValueError("streaming supports beam_width 1 only; send stream=false for beams")
    pre_step, engine_step = (_step(role) for role in ("preprocessing", "tensorrt_llm"))

    def inner(model: str, step_inputs: dict, outputs: tuple[str, ...], decoupled: bool):
        return InnerRequest(
            model, step_inputs, outputs, decoupled, request.request_id, request.timeout_us
        )

    pre_outputs = tuple(spec.name for spec in PREPROCESSING_OUTPUTS)
    pre_request = inner(models.preprocessing, _gather(pre_step, inputs), pre_outputs, False)
    pre = next(iter(infer(pre_request)), None)
    if pre is None:
        raise InnerModelError(models.preprocessing, "sent no response")
    pool = {**inputs, **{tensor: pre[name] for name, tensor in pre_step.output_map}}
    if is_cancelled():
        raise RequestCancelled("cancelled by the client before generation started")
    engine_outputs = tuple(spec.name for spec in TENSORRT_LLM_OUTPUTS)
    responses = infer(inner(models.tensorrt_llm, _gather(engine_step, pool), engine_outputs, True))
    if streaming:
        yield from _stream(responses, tokenizer, is_cancelled)
        return
    for response in responses:
        _stop_if_cancelled(responses, is_cancelled)
        texts = [tokenizer.decode(ids) for ids in _beams(response)]
        yield _response(texts, *_log_probs(response))


def _stream(
    responses: Iterable[Tensors], tokenizer: TextTokenizer, is_cancelled: Callable[[], bool]
) -> Iterator[dict[str, np.ndarray]]:
    """Streamed engine responses (new ids each) -> responses carrying whole characters.

    Log probabilities of steps whose text is held back ride on the next response, so each
    token's log probability reaches the client exactly once.
    """
    detokenizer = IncrementalDetokenizer(tokenizer)
    held: list[np.ndarray] = []
    cum = np.zeros((1, 1), np.float32)
    for response in responses:
        _stop_if_cancelled(responses, is_cancelled)
        text = detokenizer.push(_beams(response)[0])
        cum, per_token = _log_probs(response)
        held.append(per_token)
        if text:
            yield _response([text], cum, np.concatenate(held, axis=-1))
            held = []
    tail = detokenizer.finish()
    if tail:
        per_token = np.concatenate(held, axis=-1) if held else np.zeros((1, 1, 0), np.float32)
        yield _response([tail], cum, per_token)


def _step(role: str) -> EnsembleStep:
    return next(step for step in ENSEMBLE_STEPS if step.role == role)


def _gather(step: EnsembleStep, pool: Tensors) -> dict[str, np.ndarray]:
    """The inputs of `step` from ensemble-named tensors; absent optional ones are left out."""
    return {name: pool[tensor] for name, tensor in step.input_map if tensor in pool}


def _scalar(inputs: Tensors, name: str, default):
    return type(default)(inputs[name].reshape(-1)[0]) if name in inputs else default


def _beams(response: Tensors) -> list[list[int]]:
    """Token ids of each beam of the (single) batch row of an engine response."""
    ids = response["output_ids"][0]
    lengths = response["sequence_length"].reshape(-1)
    return [ids[beam, : lengths[beam]].tolist() for beam in range(ids.shape[0])]


def _log_probs(response: Tensors) -> tuple[np.ndarray, np.ndarray]:
    """cum_log_probs [1, beam] and output_log_probs [1, beam, n]; zeros where absent."""
    shape = response["output_ids"].shape
    cum = response.get("cum_log_probs")
    per_token = response.get("output_log_probs")
    return (
        np.zeros(shape[:2], np.float32) if cum is None else cum,
        np.zeros(shape, np.float32) if per_token is None else per_token,
    )


def _stop_if_cancelled(responses: Iterable[Tensors], is_cancelled: Callable[[], bool]) -> None:
    """Raise RequestCancelled, first cancelling the engine's stream where the API allows it.

    Triton 2.51's BLS response iterator has no `cancel()` (newer Python backends do); there the
    BLS only stops reading and the engine finishes the request.
    """
    if not is_cancelled():
        return
    cancel = getattr(responses, "cancel", None)
    if callable(cancel):
        cancel()
    raise RequestCancelled("cancelled by the client")


def _response(texts: list[str], cum: np.ndarray, per_token: np.ndarray) -> dict[str, np.ndarray]:
    text_output = np.empty((1, len(texts)), dtype=np.object_)
    text_output[0, :] = [text.encode("utf-8") for text in texts]
    return {"text_output": text_output, "cum_log_probs": cum, "output_log_probs": per_token}


def stop_request(models: BlsModels, request_id: str) -> InnerRequest:
    """TensorRT-LLM's cancel: `stop` set on a request carrying the live request's id.

    The engine's required inputs carry placeholders; only `stop` and the id matter.
    """
    one = np.ones((1, 1), np.int32)
    inputs = {
        "input_ids": one,
        "input_lengths": one,
        "request_output_len": one,
        "stop": np.ones((1, 1), bool),
    }
    return InnerRequest(models.tensorrt_llm, inputs, (), True, request_id, 0)


class CancelWatcher:
    """While a request runs, polls `is_cancelled` and calls `on_cancel` once when it turns true.

    Reading the engine's responses cannot notice a cancellation while no response arrives (a
    non-streaming request, a long prefill); this thread can. Use as a context manager.
    """

    def __init__(
        self,
        is_cancelled: Callable[[], bool],
        on_cancel: Callable[[], object],
        interval_s: float = 0.05,
    ) -> None:
        self._is_cancelled = is_cancelled
        self._on_cancel = on_cancel
        self._interval_s = interval_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.fired = False

    def _watch(self) -> None:
        while not self._done.wait(self._interval_s):
            if self._is_cancelled():
                self.fired = True
                self._on_cancel()
                return

    def __enter__(self) -> CancelWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
