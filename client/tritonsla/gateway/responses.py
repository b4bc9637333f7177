"""OpenAI response bodies and stream chunks for both endpoints (pure)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Kind = Literal["completion", "chat"]
_SENTINEL = "\x00text\x00"
_SENTINEL_JSON = json.dumps(_SENTINEL)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def finish_reason(completion_tokens: int, max_tokens: int, stopped: bool) -> str:
    """`length` when the answer used every token it was allowed, else `stop`."""
    return "length" if completion_tokens >= max_tokens and not stopped else "stop"


@dataclass(frozen=True)
class Shape:
    """The bodies of one request's answer: ids and names fixed, text and usage filled in."""

    kind: Kind
    model: str
    id: str = field(default_factory=lambda: os.urandom(12).hex())
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def _id(self) -> str:
        return f"{'chatcmpl' if self.kind == 'chat' else 'cmpl'}-{self.id}"

    def _envelope(self, obj: str, choices: list, extra: dict | None = None) -> dict:
        body = {
            "id": self._id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if extra:
            body.update(extra)
        return body

    def whole(self, text: str, reason: str, used: dict) -> dict:
        """The body of a non-streamed answer."""
        if self.kind == "chat":
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": reason,
            }
            return self._envelope("chat.completion", [choice], {"usage": used})
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        return self._envelope("text_completion", [choice], {"usage": used})

    @cached_property
    def _text_template(self) -> tuple[str, str]:
        """What surrounds the JSON string of a text chunk's text (each token's chunk is built
        from it rather than dumped whole: the same bytes for less work per token)."""
        head, tail = self._dump_chunk(_SENTINEL, None, False).split(_SENTINEL_JSON)
        return head, tail

    def chunk(self, text: str | None, reason: str | None = None, *, role: bool = False) -> str:
        """One SSE data line: text (None: none), the finish reason on the last, or the role
        announcement that opens a chat stream."""
        if text is not None and reason is None and not role:
            head, tail = self._text_template
            return head + json.dumps(text, ensure_ascii=False) + tail
        return self._dump_chunk(text, reason, role)

    def _dump_chunk(self, text: str | None, reason: str | None, role: bool) -> str:
        if self.kind == "chat":
            delta: dict = {"role": "assistant", "content": ""} if role else {}
            if text is not None:
                delta["content"] = text
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            body = self._envelope("chat.completion.chunk", [choice])
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
            body = self._envelope("text_completion", [choice])
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def usage_chunk(self, used: dict) -> str:
        """The last chunk of a stream with stream_options.include_usage: no choices, the usage."""
        obj = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        return json.dumps(self._envelope(obj, [], {"usage": used}), separators=(",", ":"))


def error_event(body: dict) -> str:
    """An error after the stream began, as one data line (vLLM and OpenAI send it so)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
