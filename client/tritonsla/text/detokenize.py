"""Streaming detokenization that never splits a UTF-8 character.

Byte-level BPE (GPT-2, Llama 3) and byte-fallback tokenizers spread one character over several
tokens, and decoding a token alone turns its part of a character into U+FFFD. The detokenizer
keeps a window of recent ids, decodes the whole window on every push and returns the new
characters, holding back a trailing run of U+FFFD: that run is either a character still waiting
for its last bytes or a genuine U+FFFD, and both are released once a later character follows (or
at `finish`). Decoding in a window rather than token by token also keeps what depends on the
previous token, such as the leading space SentencePiece decoders strip at the start of a text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable

from tritonsla.text.tokenizer import TextTokenizer

REPLACEMENT = "\ufffd"
DEFAULT_CONTEXT = 4
"""Ids kept before the unsettled ones: enough for decoders that look at the previous token."""


class IncrementalDetokenizer:
    """Turns token ids, pushed as they arrive, into text released in whole characters only."""

    def __init__(self, tokenizer: TextTokenizer, context: int = DEFAULT_CONTEXT) -> None:
        self._decode = tokenizer.decode
        self._context = context
        self._ids: list[int] = []
        self._sent = 0  # characters of decode(self._ids) already returned

    def push(self, ids: Iterable[int]) -> str:
        """Add the next ids; return the text completed by them (possibly "")."""
        self._ids.extend(int(i) for i in ids)
        text = self._decode(self._ids)
        end = len(text.rstrip(REPLACEMENT))
        if end < len(text):
            new = text[self._sent : end]
            self._sent = max(self._sent, end)
            return new
        new = text[self._sent :]
        self._settle(text)
        return new

    def finish(self) -> str:
        """The text not returned yet (an unfinished character as U+FFFD); then start over."""
        new = self._decode(self._ids)[self._sent :]
        self._ids = []
        self._sent = 0
        return new

    def _settle(self, text: str) -> None:
        """Drop ids before the context window once everything decoded so far is final.

        The window must start where decoding can restart without changing the text after it:
        not inside a character (a leading U+FFFD) and with a decode that is a suffix of `text`.
        A few earlier starts are tried; if none fits, the window simply grows until one does.
        """
        end = len(self._ids) - self._context
        for start in range(end, max(0, end - self._context - 1), -1):
            tail = self._decode(self._ids[start:])
            if text.endswith(tail) and not tail.startswith(REPLACEMENT):
                self._ids = self._ids[start:]
                self._sent = len(tail)
                return
        self._sent = len(text)


class StreamDetokenizers:
    """One `IncrementalDetokenizer` per stream key; past `capacity` the least recent is dropped.

    The bound keeps abandoned streams (cancelled, or ended while a character was unfinished)
    from accumulating: each entry is a few ids, and an evicted stream only loses its window.
    """

    def __init__(self, tokenizer: TextTokenizer, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._tokenizer = tokenizer
        self._capacity = capacity
        self._streams: OrderedDict[Hashable, IncrementalDetokenizer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._streams)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._streams

    def push(self, key: Hashable, ids: Iterable[int]) -> str:
        """Feed `ids` to the stream `key` (created on first use); return its completed text."""
        detokenizer = self._streams.pop(key, None) or IncrementalDetokenizer(self._tokenizer)
        self._streams[key] = detokenizer
        while len(self._streams) > self._capacity:
            self._streams.popitem(last=False)
        return detokenizer.push(ids)

    def finish(self, key: Hashable) -> str:
        """End the stream `key` and free its state; return the text it still held ("" if the
        stream is unknown)."""
        detokenizer = self._streams.pop(key, None)
        return "" if detokenizer is None else detokenizer.finish()
