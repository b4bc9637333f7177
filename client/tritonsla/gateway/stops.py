"""Stop sequences on streamed text: the answer ends before the first one, which is not sent.

The engine also gets the stop sequences (`stop_words`) and ends the request when it generates
their tokens, but it matches token ids: a sequence tokenized differently in context slips past
it. The gateway therefore matches the text too. While streaming, text that could be the start
of a stop sequence is held back until the next chunk settles it.
"""

from __future__ import annotations

from collections.abc import Sequence


def trim(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the first stop sequence, and whether one was found."""
    cut = min((i for i in (text.find(stop) for stop in stops) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


class StopFilter:
    """Feeds streamed chunks through; releases text that cannot be part of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stops)
        self.stopped = False
        self._held = ""

    def push(self, chunk: str) -> str:
        """The text now safe to send; after a stop sequence, the text before it (then stopped)."""
        if self.stopped:
            return ""
        if not self.stops:
            return chunk
        text, found = trim(self._held + chunk, self.stops)
        if found:
            self.stopped = True
            self._held = ""
            return text
        keep = self._partial(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def finish(self) -> str:
        """Text still held back when the answer ended (it was no stop sequence after all)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop sequence."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if stop.startswith(text[-size:]):
                    longest = size
                    break
        return longest
