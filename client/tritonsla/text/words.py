"""stop_words / bad_words in TensorRT-LLM's word-list format.

One request's list is an INT32 array of shape [2, L]: row 0 holds the token ids of all words
concatenated, row 1 the end offset (exclusive) of each word in row 0, then -1 up to L. With n
words of t ids in total, L = max(t, n, 1); shorter rows are padded, ids with 0 and offsets with
-1. No words gives the well-formed empty list [[0], [-1]] (shape [2, 1]): no offset, so no word.

Words arrive as strings or as a Triton STRING tensor ([batch, n] bytes); as in TensorRT-LLM's
preprocessing, every element is a CSV line, so `"a, b",c` holds the words `a, b` and `c`.
Unlike Python's csv module, newlines are kept as part of a word ("\n" is a common stop word),
and so are spaces: " world" and "world" are different tokens in byte-level BPE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tritonsla.text.tokenizer import TextTokenizer


def parse_words(elements: Iterable[str | bytes]) -> list[str]:
    """The words of `elements`, each a CSV line (str, or UTF-8 bytes); empty words dropped."""
    lines = [e.decode("utf-8") if isinstance(e, bytes) else str(e) for e in elements]
    return [word for line in lines for word in _csv_fields(line) if word]


def _csv_fields(line: str) -> list[str]:
    """Split on commas; a field opening with `"` runs to the next lone `"` (`""` is a quote)."""
    fields: list[str] = []
    field: list[str] = []
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if quoted:
            if char == '"' and line[index + 1 : index + 2] == '"':
                field.append(char)
                index += 1
            elif char == '"':
                quoted = False
            else:
                field.append(char)
        elif char == ",":
            fields.append("".join(field))
            field = []
        elif char == '"' and not field:
            quoted = True
        else:
            field.append(char)
        index += 1
    fields.append("".join(field))
    return fields


def encode_words(tokenizer: TextTokenizer, words: Iterable[str]) -> list[list[int]]:
    """Token ids of each word, without special tokens; words that encode to nothing dropped."""
    encoded = (tokenizer.encode(word, add_special_tokens=False) for word in words)
    return [ids for ids in encoded if ids]


def to_word_list(encoded: Sequence[Sequence[int]], length: int = 0) -> np.ndarray:
    """The [2, L] INT32 array of already encoded words; L is at least `length`."""
    ids = [token for word in encoded for token in word]
    offsets = np.cumsum([len(word) for word in encoded], dtype=np.int64).tolist()
    width = max(len(ids), len(offsets), 1, length)
    result = np.zeros((2, width), dtype=np.int32)
    result[0, : len(ids)] = ids
    result[1, :] = -1
    result[1, : len(offsets)] = offsets
    return result


def word_list(tokenizer: TextTokenizer, words: Iterable[str | bytes]) -> np.ndarray:
    """The [2, L] INT32 word list of `words` (strings or bytes, each a CSV line)."""
    return to_word_list(encode_words(tokenizer, parse_words(words)))


def batch_word_lists(
    tokenizer: TextTokenizer, tensor: np.ndarray | None, batch_size: int
) -> np.ndarray:
    """The [batch, 2, L] word lists of a [batch, n] STRING tensor; None means no words."""
    if tensor is None:
        rows: list[list[list[int]]] = [[] for _ in range(batch_size)]
    else:
        if tensor.ndim != 2 or tensor.shape[0] != batch_size:
            raise ValueError(
                f"word tensor must have shape [{batch_size}, n] (batch, words); got "
                f"{list(tensor.shape)}"
            )
        rows = [encode_words(tokenizer, parse_words(row)) for row in tensor]
    width = max((to_word_list(row).shape[1] for row in rows), default=1)
    result = np.empty((batch_size, 2, width), dtype=np.int32)
    for index, row in enumerate(rows):
        result[index] = to_word_list(row, width)
    return result
