"""The preprocessing and postprocessing models as pure functions on numpy tensors.

Tensors carry Triton's batch dimension (the models have max_batch_size > 0): names, types and
shapes are those of `tritonsla.contract` (PREPROCESSING_*, POSTPROCESSING_*). STRING tensors
are numpy object arrays of bytes, as the Python backend hands them over.

Streaming through the ensemble: the engine sends only the new ids of each step, and Triton
passes each step to postprocessing as a separate request. The ensemble scheduler gives every
composing request the id of the client's request, so `postprocess` can key a per-stream
`StreamDetokenizers` on it and never split a character (a step that only starts one answers
""). Limits, because postprocessing cannot see where a stream ends: the id must be unique among
open streams, the state lives in one process (keep one postprocessing instance), and bytes of a
character still unfinished when the stream ends are dropped (one-shot decoding shows U+FFFD).
Requests without an id are decoded step by step: split characters then show as U+FFFD. The BLS
model sees whole streams and has none of these limits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tritonsla.text.detokenize import StreamDetokenizers
from tritonsla.text.tokenizer import TextTokenizer
from tritonsla.text.words import batch_word_lists

Tensors = Mapping[str, np.ndarray]


def preprocess(
    tokenizer: TextTokenizer, inputs: Tensors, priority_level: int = 0
) -> dict[str, np.ndarray]:
    """QUERY, REQUEST_OUTPUT_LEN and the optional word lists and ids -> engine inputs.

    `priority_level` is the class's level on a shared engine (0: the class has its own engine);
    every request of the batch carries it to the engine as OUT_PRIORITY.

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
    }


def postprocess(
    tokenizer: TextTokenizer,
    inputs: Tensors,
    request_id: str = "",
    streams: StreamDetokenizers | None = None,
) -> dict[str, np.ndarray]:
    """TOKENS_BATCH [batch, beam, n] and SEQUENCE_LENGTH [batch, beam] -> OUTPUT text.

    With `streams` and a non-empty `request_id`, each (request, batch row, beam) is one stream
    and only whole characters are returned, the rest held for the next step of that stream.
    Log probabilities pass through; absent ones become zeros of the right shape.
    """
    tokens = inputs["TOKENS_BATCH"]
    lengths = inputs["SEQUENCE_LENGTH"].reshape(tokens.shape[:2])
    texts = np.empty(tokens.shape[:2], dtype=np.object_)
    for (row, beam), length in np.ndenumerate(lengths):
        ids = tokens[row, beam, :length].tolist()
        if streams is not None and request_id:
            text = streams.push((request_id, row, beam), ids)
        else:
            text = tokenizer.decode(ids)
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
