"""The BLS orchestration with in-process inner models: real preprocessing, a scripted engine."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

from tritonsla.bls.core import (
    BlsModels,
    ClientRequest,
    InnerModelError,
    InnerRequest,
    RequestCancelled,
    generate,
)
from tritonsla.text.detokenize import REPLACEMENT
from tritonsla.text.processing import preprocess
from tritonsla.text.tokenizer import TextTokenizer

MODELS = BlsModels(preprocessing="p_preprocessing", tensorrt_llm="p_tensorrt_llm")
REPLY = "Streaming 中文, emoji 😀🎉👍 and café through the BLS."


class Stream:
    """Engine responses of one request, as Triton 2.51 gives them (no cancel); counts reads."""

    def __init__(self, responses: list[dict[str, np.ndarray]]) -> None:
        self.responses = responses
        self.read = 0
        self.cancelled = False

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for response in self.responses:
            self.read += 1
            yield response


class CancellableStream(Stream):
    """A newer Python backend's response iterator, which can cancel the inner request."""

    def cancel(self) -> None:
        self.cancelled = True


class FakeModels:
    """The `Infer` callable: preprocessing for real, an engine that replies `reply`."""

    def __init__(
        self, tokenizer: TextTokenizer, beams: int = 1, stream_type: type[Stream] = Stream
    ) -> None:
        self.tokenizer = tokenizer
        self.reply_ids = tokenizer.encode(REPLY)
        self.beams = beams
        self.stream_type = stream_type
        self.requests: list[InnerRequest] = []
        self.stream: Stream | None = None

    def __call__(self, inner: InnerRequest):
        self.requests.append(inner)
        if inner.model == MODELS.preprocessing:
            return [preprocess(self.tokenizer, inner.inputs)]
        assert inner.model == MODELS.tensorrt_llm
        streaming = "streaming" in inner.inputs and bool(inner.inputs["streaming"][0, 0])
        self.stream = self.stream_type(self._steps() if streaming else [self._all()])
        return self.stream

    def _steps(self) -> list[dict[str, np.ndarray]]:
        ids, rng, steps, start = self.reply_ids, random.Random(2), [], 0
        while start < len(ids):
            new = ids[start : start + rng.randint(1, 3)]
            start += len(new)
            steps.append(_engine_response([new], cum=-float(start)))
        return steps

    def _all(self) -> dict[str, np.ndarray]:
        return _engine_response([self.reply_ids] * self.beams, cum=-1.0)


def _engine_response(beams: list[list[int]], cum: float) -> dict[str, np.ndarray]:
    width = max(len(ids) for ids in beams)
    output_ids = np.zeros((1, len(beams), width), dtype=np.int32)
    for beam, ids in enumerate(beams):
        output_ids[0, beam, : len(ids)] = ids
    return {
        "output_ids": output_ids,
        "sequence_length": np.array([[len(ids) for ids in beams]], dtype=np.int32),
        "cum_log_probs": np.full((1, len(beams)), cum, dtype=np.float32),
        "output_log_probs": np.full((1, len(beams), width), -0.25, dtype=np.float32),
    }


def _client(stream: bool, **extra: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "text_input": np.array([[b"Tell me something."]], dtype=np.object_),
        "max_tokens": np.array([[64]], dtype=np.int32),
        "stream": np.array([[stream]], dtype=np.bool_),
        **extra,
    }


def _texts(responses: list[dict[str, np.ndarray]]) -> list[str]:
    return [response["text_output"][0, 0].decode("utf-8") for response in responses]


def test_streaming_sends_whole_characters(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer)
    responses = list(generate(MODELS, ClientRequest(_client(True)), fake, tokenizer))
    texts = _texts(responses)
    assert "".join(texts) == REPLY
    assert all(text and REPLACEMENT not in text for text in texts)
    assert len(responses) > 3
    for response in responses:
        assert response["text_output"].shape == (1, 1)
        assert response["text_output"].dtype == np.object_


def test_streaming_log_probs_reach_the_client_once_per_token(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer)
    responses = list(generate(MODELS, ClientRequest(_client(True)), fake, tokenizer))
    per_token = np.concatenate([r["output_log_probs"] for r in responses], axis=-1)
    assert per_token.shape == (1, 1, len(fake.reply_ids))
    assert responses[-1]["cum_log_probs"].tolist() == [[-float(len(fake.reply_ids))]]


def test_non_streaming_one_response_per_beam(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer, beams=2)
    inputs = _client(False, beam_width=np.array([[2]], dtype=np.int32))
    (response,) = generate(MODELS, ClientRequest(inputs), fake, tokenizer)
    assert response["text_output"].tolist() == [[REPLY.encode(), REPLY.encode()]]
    assert response["cum_log_probs"].shape == (1, 2)
    assert response["output_log_probs"].shape == (1, 2, len(fake.reply_ids))


def test_inner_requests_carry_id_timeout_and_ensemble_wiring(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer)
    inputs = _client(
        True,
        top_k=np.array([[5]], dtype=np.int32),
        temperature=np.array([[0.5]], dtype=np.float32),
        stop_words=np.array([[b"\n\n"]], dtype=np.object_),
    )
    request = ClientRequest(inputs, request_id="client-42", timeout_us=250_000)
    list(generate(MODELS, request, fake, tokenizer))
    pre, engine = fake.requests
    assert (pre.model, pre.decoupled) == (MODELS.preprocessing, False)
    assert (engine.model, engine.decoupled) == (MODELS.tensorrt_llm, True)
    for inner in (pre, engine):
        assert (inner.request_id, inner.timeout_us) == ("client-42", 250_000)
    assert set(pre.inputs) == {"QUERY", "REQUEST_OUTPUT_LEN", "STOP_WORDS_DICT"}
    assert set(engine.inputs) == {
        "input_ids",
        "input_lengths",
        "request_output_len",
        "end_id",
        "pad_id",
        "stop_words_list",
        "bad_words_list",
        "priority",
        "runtime_top_k",
        "temperature",
        "streaming",
    }
    assert engine.inputs["input_ids"][0].tolist() == tokenizer.encode("Tell me something.")
    assert engine.inputs["runtime_top_k"] is inputs["top_k"]
    assert engine.inputs["stop_words_list"].shape[:2] == (1, 2)
    assert engine.outputs == ("output_ids", "sequence_length", "cum_log_probs", "output_log_probs")


@pytest.mark.parametrize("stream_type", [Stream, CancellableStream])
def test_cancellation_stops_reading_and_cancels_where_possible(
    tokenizer: TextTokenizer, stream_type: type[Stream]
) -> None:
    fake = FakeModels(tokenizer, stream_type=stream_type)
    chunks = generate(
        MODELS,
        ClientRequest(_client(True)),
        fake,
        tokenizer,
        is_cancelled=lambda: fake.stream is not None and fake.stream.read >= 3,
    )
    with pytest.raises(RequestCancelled, match="cancelled by the client"):
        list(chunks)
    assert fake.stream is not None
    assert fake.stream.read == 3
    assert fake.stream.cancelled is (stream_type is CancellableStream)


def test_cancelled_before_generation(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer)
    chunks = generate(MODELS, ClientRequest(_client(False)), fake, tokenizer, lambda: True)
    with pytest.raises(RequestCancelled, match="before generation started"):
        next(chunks)
    assert [inner.model for inner in fake.requests] == [MODELS.preprocessing]


def test_inner_errors_propagate(tokenizer: TextTokenizer) -> None:
    def broken_engine(inner: InnerRequest):
        if inner.model == MODELS.preprocessing:
            return [preprocess(tokenizer, inner.inputs)]
        raise InnerModelError(inner.model, "KV cache exhausted")

    with pytest.raises(InnerModelError, match="model 'p_tensorrt_llm' failed: KV cache"):
        list(generate(MODELS, ClientRequest(_client(True)), broken_engine, tokenizer))
    with pytest.raises(InnerModelError, match="'p_preprocessing' failed: sent no response"):
        list(generate(MODELS, ClientRequest(_client(True)), lambda inner: [], tokenizer))


def test_refuses_batches_and_streamed_beams(tokenizer: TextTokenizer) -> None:
    fake = FakeModels(tokenizer)
    batch = _client(False)
    batch["text_input"] = np.array([[b"a"], [b"b"]], dtype=np.object_)
    with pytest.raises(ValueError, match="one prompt per request; got a batch of 2"):
        list(generate(MODELS, ClientRequest(batch), fake, tokenizer))
    beams = _client(True, beam_width=np.array([[2]], dtype=np.int32))
    with pytest.raises(ValueError, match="streaming supports beam_width 1 only"):
        list(generate(MODELS, ClientRequest(beams), fake, tokenizer))
    assert fake.requests == []
