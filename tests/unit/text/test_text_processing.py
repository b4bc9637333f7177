"""preprocess / postprocess on numpy tensors shaped as Triton hands them over (batch first)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tritonsla.contract import POSTPROCESSING_OUTPUTS, PREPROCESSING_OUTPUTS, TensorSpec
from tritonsla.text.detokenize import REPLACEMENT, StreamDetokenizers
from tritonsla.text.processing import postprocess, preprocess
from tritonsla.text.tokenizer import TextTokenizer
from tritonsla.text.words import word_list

NUMPY_TYPES = {"TYPE_INT32": np.int32, "TYPE_FP32": np.float32, "TYPE_STRING": np.object_}


def _strings(*rows: list[str]) -> np.ndarray:
    return np.array([[s.encode() for s in row] for row in rows], dtype=np.object_)


def _column(*values: int) -> np.ndarray:
    return np.array([[v] for v in values], dtype=np.int32)


def _assert_contract(outputs: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]) -> None:
    assert set(outputs) == {spec.name for spec in specs}
    for spec in specs:
        assert outputs[spec.name].dtype == NUMPY_TYPES[spec.data_type], spec.name
        assert outputs[spec.name].ndim == len(spec.dims) + 1, spec.name  # + batch


def test_preprocess_batch(tokenizer: TextTokenizer) -> None:
    inputs = {
        "QUERY": _strings(["Hello world"], ["中文 😀, a longer prompt"]),
        "REQUEST_OUTPUT_LEN": _column(16, 32),
        "STOP_WORDS_DICT": _strings(["\n,end"], [""]),
    }
    outputs = preprocess(tokenizer, inputs)
    _assert_contract(outputs, PREPROCESSING_OUTPUTS)
    short, long = tokenizer.encode("Hello world"), tokenizer.encode("中文 😀, a longer prompt")
    assert outputs["INPUT_ID"].shape == (2, len(long))
    assert outputs["INPUT_ID"][0].tolist() == short + [0] * (len(long) - len(short))
    assert outputs["INPUT_ID"][1].tolist() == long
    assert outputs["REQUEST_INPUT_LEN"].tolist() == [[len(short)], [len(long)]]
    assert outputs["REQUEST_OUTPUT_LEN"].tolist() == [[16], [32]]
    assert outputs["OUT_END_ID"].tolist() == outputs["OUT_PAD_ID"].tolist() == [[0], [0]]
    stop = word_list(tokenizer, ["\n,end"])
    assert outputs["STOP_WORDS_IDS"][0, :, : stop.shape[1]].tolist() == stop.tolist()
    assert outputs["BAD_WORDS_IDS"].tolist() == [[[0], [-1]], [[0], [-1]]]
    keys = outputs["OUT_STREAM_KEY"].reshape(-1).tolist()
    assert len(set(keys)) == 2 and all(isinstance(k, bytes) and len(k) == 32 for k in keys)
    again = preprocess(tokenizer, inputs)["OUT_STREAM_KEY"].reshape(-1).tolist()
    assert not set(again) & set(keys)  # a new key per request, whatever the client sends


def test_preprocess_uses_request_end_and_pad_ids(tokenizer: TextTokenizer) -> None:
    inputs = {
        "QUERY": _strings(["a"], ["a b c"]),
        "REQUEST_OUTPUT_LEN": _column(1, 1),
        "END_ID": _column(7, 8),
        "PAD_ID": _column(9, 10),
    }
    outputs = preprocess(tokenizer, inputs)
    assert outputs["OUT_END_ID"].tolist() == [[7], [8]]
    assert outputs["OUT_PAD_ID"].tolist() == [[9], [10]]
    assert outputs["INPUT_ID"][0, 1:].tolist() == [9] * (outputs["INPUT_ID"].shape[1] - 1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (np.array([[b""]], dtype=np.object_), "encodes to no tokens"),
        (np.array([[b"\xff\xfe"]], dtype=np.object_), "not valid UTF-8"),
    ],
)
def test_preprocess_refuses_bad_prompts(
    tokenizer: TextTokenizer, query: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        preprocess(tokenizer, {"QUERY": query, "REQUEST_OUTPUT_LEN": _column(4)})


def test_preprocess_needs_an_end_id(tokenizer: TextTokenizer) -> None:
    bare = TextTokenizer(Path("."), tokenizer.backend, None, None, None)
    inputs = {"QUERY": _strings(["hi"]), "REQUEST_OUTPUT_LEN": _column(4)}
    with pytest.raises(ValueError, match="defines no end_id; send `end_id`"):
        preprocess(bare, inputs)
    outputs = preprocess(bare, {**inputs, "END_ID": _column(3), "PAD_ID": _column(3)})
    assert outputs["OUT_END_ID"].tolist() == [[3]]


def _tokens(beams: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((1, len(beams), width), 0, dtype=np.int32)
    for beam, ids in enumerate(beams):
        tokens[0, beam, : len(ids)] = ids
    return tokens, np.array([[len(ids) for ids in beams]], dtype=np.int32)


def test_postprocess_beams_and_sequence_lengths(tokenizer: TextTokenizer) -> None:
    first, second = tokenizer.encode("one beam"), tokenizer.encode("二 😀")
    tokens, lengths = _tokens([first, second], 12)
    tokens[0, 0, len(first) :] = tokenizer.encode("x" * 12)[: 12 - len(first)]  # ignored
    outputs = postprocess(tokenizer, {"TOKENS_BATCH": tokens, "SEQUENCE_LENGTH": lengths})
    _assert_contract(outputs, POSTPROCESSING_OUTPUTS)
    assert outputs["OUTPUT"].tolist() == [[b"one beam", "二 😀".encode()]]
    assert outputs["OUT_CUM_LOG_PROBS"].tolist() == [[0.0, 0.0]]
    assert outputs["OUT_OUTPUT_LOG_PROBS"].shape == (1, 2, 12)
    assert not outputs["OUT_OUTPUT_LOG_PROBS"].any()


def test_postprocess_passes_log_probs_through(tokenizer: TextTokenizer) -> None:
    tokens, lengths = _tokens([tokenizer.encode("hi")], 2)
    cum = np.array([[-1.5]], dtype=np.float32)
    per_token = np.array([[[-0.5, -1.0]]], dtype=np.float32)
    inputs = {
        "TOKENS_BATCH": tokens,
        "SEQUENCE_LENGTH": lengths,
        "CUM_LOG_PROBS": cum,
        "OUTPUT_LOG_PROBS": per_token,
    }
    outputs = postprocess(tokenizer, inputs)
    assert outputs["OUT_CUM_LOG_PROBS"] is cum
    assert outputs["OUT_OUTPUT_LOG_PROBS"] is per_token


def _streamed(tokenizer: TextTokenizer, text: str, key: bytes | None, streams) -> list[str]:
    """Feed `text`'s ids one engine step (1-3 new ids) per postprocessing request, as the
    ensemble does: each step carries the stream key (when `key` is not None) and IS_FINAL."""
    ids, rng, chunks, start = tokenizer.encode(text), random.Random(5), [], 0
    while start < len(ids):
        step = ids[start : start + rng.randint(1, 3)]
        start += len(step)
        tokens, lengths = _tokens([step], len(step))
        inputs = {"TOKENS_BATCH": tokens, "SEQUENCE_LENGTH": lengths}
        if key is not None:
            inputs["STREAM_KEY"] = np.array([[key]], dtype=np.object_)
            inputs["IS_FINAL"] = np.array([[start >= len(ids)]])
        chunks.append(postprocess(tokenizer, inputs, streams)["OUTPUT"][0, 0].decode())
    return chunks


def test_postprocess_streams_whole_characters_per_stream_key(tokenizer: TextTokenizer) -> None:
    text = "Streaming 中文 and emoji 😀🎉👍 through the ensemble, café."
    streams = StreamDetokenizers(tokenizer)
    chunks = _streamed(tokenizer, text, b"key-1", streams)
    assert "".join(chunks) == text
    assert all(REPLACEMENT not in chunk for chunk in chunks)
    assert len(streams) == 0  # the final step freed the stream


def test_interleaved_streams_with_distinct_keys_do_not_mix(tokenizer: TextTokenizer) -> None:
    texts = {b"a": "中文 😀 first", b"b": "naïve €100 second"}
    streams = StreamDetokenizers(tokenizer)
    ids = {key: tokenizer.encode(text) for key, text in texts.items()}
    out = {key: "" for key in texts}
    for position in range(max(map(len, ids.values()))):
        for key, row in ids.items():  # one token of each stream in turn
            if position < len(row):
                tokens, lengths = _tokens([row[position : position + 1]], 1)
                inputs = {
                    "TOKENS_BATCH": tokens,
                    "SEQUENCE_LENGTH": lengths,
                    "STREAM_KEY": np.array([[key]], dtype=np.object_),
                    "IS_FINAL": np.array([[position == len(row) - 1]]),
                }
                out[key] += postprocess(tokenizer, inputs, streams)["OUTPUT"][0, 0].decode()
    assert out == texts and len(streams) == 0


def test_final_step_flushes_an_unfinished_character_as_one_shot_decoding_does(
    tokenizer: TextTokenizer,
) -> None:
    ids = tokenizer.encode("ok 😀")[:-1]  # the emoji's last byte never comes
    streams = StreamDetokenizers(tokenizer)
    text = ""
    for index, token in enumerate(ids):
        tokens, lengths = _tokens([[token]], 1)
        inputs = {
            "TOKENS_BATCH": tokens,
            "SEQUENCE_LENGTH": lengths,
            "STREAM_KEY": np.array([[b"k"]], dtype=np.object_),
            "IS_FINAL": np.array([[index == len(ids) - 1]]),
        }
        text += postprocess(tokenizer, inputs, streams)["OUTPUT"][0, 0].decode()
    assert text == tokenizer.decode(ids) and text.endswith(REPLACEMENT)
    assert len(streams) == 0


def test_postprocess_without_stream_key_decodes_each_step_alone(tokenizer: TextTokenizer) -> None:
    """No key (kind trt-engine): no stream state, split characters show as U+FFFD."""
    streams = StreamDetokenizers(tokenizer)
    chunks = _streamed(tokenizer, "😀🎉👍中文", None, streams)
    assert REPLACEMENT in "".join(chunks)
    assert len(streams) == 0
