"""An OpenAI-compatible HTTP server (the gateway, vLLM, trtllm-serve, ...) as the bench's sender.

`tritonsla bench --openai-url http://127.0.0.1:9000/v1` sends each request to
`/v1/completions` (or `/v1/chat/completions`, `--endpoint-type chat`) with `stream`,
`stream_options.include_usage`, `max_tokens` and, for exact lengths, vLLM's `min_tokens`
(`--no-min-tokens` leaves it out for servers that refuse it). A request's class goes in the
`x-sla-class` header, which the gateway routes by and other servers ignore; the class that
served it comes back in the same header and becomes the record's endpoint.

Streams are read as server-sent events (httpx2's parser); a chunk counts as a token arrival
when it carries text. Output tokens are the server's `usage.completion_tokens` when it reports
them, else the number of chunks that carried text; input tokens are its `usage.prompt_tokens`
(a chat template's tokens included) when it reports them, else the workload's count. Times are
`time.perf_counter`, the clock of the bench's schedule. An HTTP error becomes a record whose
`error_kind` says what it was: 429 ServerRejected, 503 ReplicaUnavailable, 504
DeadlineExceeded, 400 BadRequest, other statuses `HTTP<code>`; transport failures are
ConnectFailed, Timeout (one read) or StreamBroken; a request over the bench's `--timeout` in all
is TotalTimeout, and an answer that is not OpenAI's JSON is BadAnswer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

from tritonsla.bench.records import RequestRecord
from tritonsla.bench.schedule import Slot
from tritonsla.bench.workload import BenchRequest
from tritonsla.gateway_protocol import CLASS_HEADER, DONE

EndpointType = Literal["completions", "chat"]
PATHS: dict[str, str] = {"completions": "/completions", "chat": "/chat/completions"}
STATUS_KINDS = {
    400: "BadRequest",
    429: "ServerRejected",
    503: "ReplicaUnavailable",
    504: "DeadlineExceeded",
}


class AnswerError(Exception):
    """The server answered with an error (HTTP status or an error event in the stream)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def error_of(status: int, body: str) -> AnswerError:
    """The error an HTTP `status` with `body` stands for (OpenAI's `{"error": {...}}` read)."""
    kind = STATUS_KINDS.get(status, f"HTTP{status}")
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.strip()[:200] or "no body"
    return AnswerError(kind, f"HTTP {status}: {message}")


def transport_kind(error: httpx2.TransportError) -> str:
    """ConnectFailed, Timeout or StreamBroken."""
    if isinstance(error, httpx2.ConnectError):
        return "ConnectFailed"
    if isinstance(error, httpx2.TimeoutException):
        return "Timeout"
    return "StreamBroken"


def chunk_text(kind: EndpointType, event: dict[str, Any]) -> str:
    """The text a completion or chat chunk (or whole answer) carries; "" when none."""
    choices = event.get("choices") or []
    if not choices:
        return ""
    choice = choices[0]
    if kind == "completions":
        return choice.get("text") or ""
    part = choice.get("delta") or choice.get("message") or {}
    return part.get("content") or ""


@dataclass(frozen=True)
class OpenAiTarget:
    """Where and how requests go: base URL (`.../v1`), model name (None: the deployment's
    `model.name`, filled in by `prepare`), endpoint type."""

    base_url: str
    model: str | None
    endpoint_type: EndpointType = "completions"
    exact_lengths: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + PATHS[self.endpoint_type]

    def body(self, request: BenchRequest, stream: bool) -> dict[str, Any]:
        """The JSON body of `request`."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": request.max_tokens}
        if self.endpoint_type == "chat":
            body["messages"] = [{"role": "user", "content": request.text}]
        else:
            body["prompt"] = request.text
        if self.exact_lengths:
            body["min_tokens"] = request.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body


@dataclass
class _Answer:
    """What has come back so far (partial when the request failed)."""

    sent: float | None = None
    chunks: list[float] = field(default_factory=list)
    end: float | None = None
    tokens: int | None = None
    prompt_tokens: int | None = None
    served_by: str | None = None

    def count(self, usage: dict | None) -> None:
        """Take the token counts of an OpenAI `usage` object, when there is one."""
        if usage:
            self.tokens = usage.get("completion_tokens", self.tokens)
            self.prompt_tokens = usage.get("prompt_tokens", self.prompt_tokens)


@dataclass(frozen=True)
class OpenAiSender:
    """Sends bench requests to an OpenAI-compatible server through one httpx2 client.

    `streaming` maps class -> stream flag, as the SDK sender's; unlisted classes stream.
    """

    client: httpx2.AsyncClient
    target: OpenAiTarget
    streaming: dict[str, bool] | None = None
    timeout_s: float | None = None

    def _streams(self, request: BenchRequest) -> bool:
        if self.streaming is None or request.sla is None:
            return True
        return self.streaming.get(request.sla, True)

    async def __call__(self, request: BenchRequest, slot: Slot) -> RequestRecord:
        stream = self._streams(request)
        headers = dict(self.target.headers)
        if request.sla is not None:
            headers[CLASS_HEADER] = request.sla
        answer = _Answer()
        error: tuple[str, str] | None = None
        body = self.target.body(request, stream)
        send = self._stream if stream else self._whole
        try:
            async with asyncio.timeout(self.timeout_s):  # inline: no task, no loop turn first
                await send(body, headers, answer)
        except AnswerError as problem:
            error = (problem.kind, str(problem))
        except httpx2.TransportError as problem:
            error = (transport_kind(problem), f"{type(problem).__name__}: {problem}")
        except asyncio.TimeoutError:
            error = ("TotalTimeout", f"no complete answer within {self.timeout_s:g} s")
        except ValueError as problem:
            error = ("BadAnswer", f"not an OpenAI answer: {problem}")
        tokens = answer.tokens if answer.tokens is not None else len(answer.chunks)
        return RequestRecord(
            index=request.index,
            sla=request.sla,
            endpoint=answer.served_by,
            warmup=slot.warmup,
            status="ok" if error is None else "error",
            input_tokens=answer.prompt_tokens or request.input_tokens,
            max_tokens=request.max_tokens,
            output_tokens=tokens,
            scheduled=slot.scheduled,
            sent=answer.sent,
            first_token=answer.chunks[0] if answer.chunks else None,
            end=answer.end if error is None else None,
            chunks=tuple(answer.chunks),
            error_kind=None if error is None else error[0],
            error=None if error is None else error[1],
        )

    async def _whole(self, body: dict, headers: dict[str, str], answer: _Answer) -> None:
        answer.sent = time.perf_counter()
        response = await self.client.post(self.target.url, json=body, headers=headers)
        answer.end = time.perf_counter()
        answer.served_by = response.headers.get(CLASS_HEADER)
        if response.status_code != 200:
            raise error_of(response.status_code, response.text)
        event = _json_object(response.text)
        if chunk_text(self.target.endpoint_type, event):
            answer.chunks.append(answer.end)
        answer.count(event.get("usage"))

    async def _stream(self, body: dict, headers: dict[str, str], answer: _Answer) -> None:
        answer.sent = time.perf_counter()
        async with self.client.stream(
            "POST", self.target.url, json=body, headers=headers
        ) as response:
            answer.served_by = response.headers.get(CLASS_HEADER)
            if response.status_code != 200:
                await response.aread()
                raise error_of(response.status_code, response.text)
            async for event in httpx2.EventSource(response):
                now = time.perf_counter()
                if event.data.strip() == DONE:
                    answer.end = now
                    return
                data = _json_object(event.data)
                if "error" in data:
                    error = data["error"]
                    message = error.get("message", event.data) if isinstance(error, dict) else error
                    raise AnswerError("StreamError", f"error event: {message}")
                if chunk_text(self.target.endpoint_type, data):
                    answer.chunks.append(now)
                answer.count(data.get("usage"))
        answer.end = time.perf_counter()  # a stream that ended without [DONE]


@asynccontextmanager
async def openai_sender(
    target: OpenAiTarget,
    streaming: dict[str, bool] | None,
    timeout_s: float,
    connect_s: float,
    connections: int = 256,
) -> AsyncIterator[OpenAiSender]:
    """A sender with its own connection pool (closed on exit); `timeout_s` bounds each read."""
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx2.Timeout(timeout_s, connect=connect_s)
    async with httpx2.AsyncClient(timeout=timeout, limits=limits) as client:
        yield OpenAiSender(client, target, streaming, timeout_s)


def _json_object(text: str) -> dict:
    """`text` as a JSON object; ValueError (a BadAnswer record) for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data
