"""The preprocessing and postprocessing models as pure functions on numpy tensors.

Tensors carry Triton's batch dimension (the models have max_batch_size > 0): names, types and
shapes are those of `tritonsla.contract` (PREPROCESSING_*, POSTPROCESSING_*). STRING tensors
are numpy object arrays of bytes, as the Python backend hands them over.

Streaming through the ensemble: the engine sends only the new ids of each step, and Triton
passes each step to postprocessing as a separate request. Preprocessing makes a stream key per
request (OUT_STREAM_KEY); engines of kind cpu and llmapi echo it on every response with
`is_final`, and `postprocess` keys a `StreamDetokenizers` on it, so no character is split (a step
that only starts one answers "") and the state is freed on the final response. The key is ours,
not the client's request id, so clients that share an id, or send none, never see each other's
text. The state lives in one process: keep one postprocessing instance. Without a key (the C++
backend of kind trt-engine cannot carry one) each step is decoded on its own, as upstream does:
split characters then show as U+FFFD. The BLS model sees whole streams and has none of these
limits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import numpy as np

from tritonsla.text.detokenize import StreamDetokenizers
from tritonsla.text.tokenizer import TextTokenizer
from tritonsla.text.words import batch_word_lists

Tensors = Mapping[str, np.ndarray]


def new_stream_key() -> bytes:
    """A key no other open stream has (random, 128 bits)."""
    return uuid.uuid4().hex.encode()


def preprocess(
    tokenizer: TextTokenizer,
    inputs: Tensors,
    priority_level: int = 0,
    stream_key: Callable[[], bytes] = new_stream_key,
) -> dict[str, np.ndarray]:
    """QUERY, REQUEST_OUTPUT_LEN and the optional word lists and ids -> engine inputs.

    `priority_level` is the class's level on a shared engine (0: the class has its own engine);
    every request of the batch carries it to the engine as OUT_PRIORITY. Each row gets its own
    OUT_STREAM_KEY from `stream_key`.

    Raises ValueError for a request that cannot be served (undecodable or empty text, no end id).
    """
    queries = inputs["QUERY"].reshape(inputs["QUERY"].shape[0], -1)[:, 0]
    batch = len(queries)
    end_ids = _ids_or_default(inputs.get("END_ID"), tokenizer.eos_token_id, "end_id", batch)
    pad_ids = _ids_or_default(inputs.get("PAD_ID"), tokenizer.pad_token_id, "pad_id", batch)
    encoded = [tokenizer.encode(_text(query)) for query in queries]
    if not all(encoded):
        raise ValueError("text_input encodes to no tokens; send a non-empty prompt")
    width = max(len(ids) for ids in encoded)
    input_ids = np.repeat(pad_ids, width, axis=1)
    for row, ids in enumerate(encoded):
        input_ids[row, : len(ids)] = ids
    return {
        "INPUT_ID": input_ids,
        "REQUEST_INPUT_LEN": np.array([[len(ids)] for ids in encoded], dtype=np.int32),
        "BAD_WORDS_IDS": batch_word_lists(tokenizer, inputs.get("BAD_WORDS_DICT"), batch),
        "STOP_WORDS_IDS": batch_word_lists(tokenizer, inputs.get("STOP_WORDS_DICT"), batch),
        "REQUEST_OUTPUT_LEN": inputs["REQUEST_OUTPUT_LEN"].astype(np.int32).reshape(batch, -1),
        "OUT_END_ID": end_ids,
        "OUT_PAD_ID": pad_ids,
        "OUT_PRIORITY": np.full((batch, 1), priority_level, dtype=np.int32),
        "OUT_STREAM_KEY": np.array([[stream_key()] for _ in range(batch)], dtype=np.object_),
    }


def postprocess(
    tokenizer: TextTokenizer, inputs: Tensors, streams: StreamDetokenizers | None = None
) -> dict[str, np.ndarray]:
    """TOKENS_BATCH [batch, beam, n] and SEQUENCE_LENGTH [batch, beam] -> OUTPUT text.

    With `streams` and a row's non-empty STREAM_KEY, each (key, beam) is one stream: only whole
    characters are returned, the rest held for the next step, and all of it on the row's final
    step (IS_FINAL; absent means final), which frees the stream. A final step of a stream never
    seen (a non-streaming answer) is decoded at once. Log probabilities pass through; absent ones
    become zeros of the right shape.
    """
    tokens = inputs["TOKENS_BATCH"]
    lengths = inputs["SEQUENCE_LENGTH"].reshape(tokens.shape[:2])
    keys = _column(inputs.get("STREAM_KEY"), tokens.shape[0], b"")
    finals = _column(inputs.get("IS_FINAL"), tokens.shape[0], True)
    texts = np.empty(tokens.shape[:2], dtype=np.object_)
    for (row, beam), length in np.ndenumerate(lengths):
        ids = tokens[row, beam, :length].tolist()
        key = (keys[row], beam)
        if streams is None or not keys[row] or (finals[row] and key not in streams):
            text = tokenizer.decode(ids)
        else:
            text = streams.push(key, ids)
            if finals[row]:
                text += streams.finish(key)
        texts[row, beam] = text.encode("utf-8")
    cum = inputs.get("CUM_LOG_PROBS")
    per_token = inputs.get("OUTPUT_LOG_PROBS")
    return {
        "OUTPUT": texts,
        "OUT_CUM_LOG_PROBS": np.zeros(tokens.shape[:2], np.float32) if cum is None else cum,
        "OUT_OUTPUT_LOG_PROBS": (
            np.zeros(tokens.shape, np.float32) if per_token is None else per_token
        ),
    }


def _column(tensor: np.ndarray | None, batch: int, default: object) -> list:
    """The first value of each row of a [batch, 1] tensor, or `default` for every row."""
    if tensor is None:
        return [default] * batch
    return tensor.reshape(batch, -1)[:, 0].tolist()


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"text_input is not valid UTF-8 ({exc})") from exc


def _ids_or_default(
    tensor: np.ndarray | None, default: int | None, name: str, batch: int
) -> np.ndarray:
    """A [batch, 1] INT32 column: the request's ids, else the tokenizer's default."""
    if tensor is not None:
        return tensor.astype(np.int32).reshape(batch, 1)
    if default is None:
        raise ValueError(f"the tokenizer defines no {name}; send `{name}` with the request")
    return np.full((batch, 1), default, dtype=np.int32)
