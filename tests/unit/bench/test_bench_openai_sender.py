"""The OpenAI sender over httpx2's own test transport: bodies, SSE parsing, errors, records.

(Against the real gateway on the CPU deployment: tests/integration/test_bench_openai.py.)
"""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from tritonsla.bench.openai import OpenAiSender, OpenAiTarget, chunk_text, error_of
from tritonsla.bench.schedule import Slot
from tritonsla.bench.workload import BenchRequest

REQUEST = BenchRequest(3, "hello there", 4, "realtime", 2)
SLOT = Slot(index=3, scheduled=0.0, warmup=False)


def sse(*events: dict | str) -> bytes:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return ("".join(lines)).encode()


def completion_chunk(text: str) -> dict:
    return {"object": "text_completion", "choices": [{"index": 0, "text": text}]}


def send(handler, target: OpenAiTarget | None = None, **sender: object):
    """Run one request through an OpenAiSender whose transport is `handler`."""
    target = target or OpenAiTarget("http://gw/v1", "tiny-gpt2")

    async def go():
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
            return await OpenAiSender(client, target, **sender)(REQUEST, SLOT)

    return asyncio.run(go())


def test_a_stream_becomes_a_record_with_chunk_times_and_the_servers_token_count() -> None:
    seen = {}

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.update(url=str(request.url), headers=request.headers, body=json.loads(request.content))
        body = sse(
            completion_chunk("a"), completion_chunk(""), completion_chunk(" b"),
            {"choices": [{"index": 0, "text": "", "finish_reason": "length"}]},
            {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 4}},
            "[DONE]",
        )  # fmt: skip
        headers = {"content-type": "text/event-stream", "x-sla-class": "realtime"}
        return httpx2.Response(200, content=body, headers=headers)

    record = send(handler)
    assert seen["url"] == "http://gw/v1/completions"
    assert seen["headers"]["x-sla-class"] == "realtime"
    assert seen["body"] == {
        "model": "tiny-gpt2",
        "max_tokens": 4,
        "prompt": "hello there",
        "min_tokens": 4,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert record.ok and record.endpoint == "realtime"
    assert len(record.chunks) == 2  # only chunks with text
    assert record.output_tokens == 4  # usage wins over the chunk count
    assert record.input_tokens == 2
    assert record.first_token == record.chunks[0] and record.end >= record.chunks[-1]
    assert record.sent is not None and record.sent <= record.first_token


def test_chat_whole_answers_and_min_tokens_left_out() -> None:
    seen = {}

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen["body"] = json.loads(request.content)
        answer = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2},  # 9: the chat template's
        }
        return httpx2.Response(200, json=answer)

    target = OpenAiTarget("http://gw/v1/", "m", "chat", exact_lengths=False)
    record = send(handler, target, streaming={"realtime": False})
    assert seen["body"] == {
        "model": "m",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": "hello there"}],
    }
    assert record.ok and record.output_tokens == 2 and len(record.chunks) == 1
    assert record.input_tokens == 9
    assert record.first_token == record.end


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "ServerRejected"), (503, "ReplicaUnavailable"), (504, "DeadlineExceeded"),
     (400, "BadRequest"), (500, "HTTP500")],
)  # fmt: skip
def test_http_errors_become_error_records_named_by_status(status: int, kind: str) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        error = {"error": {"message": "queue full", "type": "x", "param": None, "code": None}}
        return httpx2.Response(status, json=error)

    record = send(handler)
    assert record.status == "error" and record.error_kind == kind
    assert record.error == f"HTTP {status}: queue full"
    assert record.end is None and record.output_tokens == 0
    assert record.input_tokens == REQUEST.input_tokens  # no usage: the workload's count


def test_an_error_event_inside_a_stream_fails_the_request_with_what_came() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = sse(completion_chunk("a"), {"error": {"message": "replica lost"}}, "[DONE]")
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    record = send(handler)
    assert record.error_kind == "StreamError" and "replica lost" in (record.error or "")
    assert len(record.chunks) == 1 and record.output_tokens == 1


def test_transport_failures_and_garbage_are_named() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    assert send(refuse).error_kind == "ConnectFailed"

    def garbage(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"data: {not json\n\n",
                               headers={"content-type": "text/event-stream"})  # fmt: skip

    assert send(garbage).error_kind == "BadAnswer"

    def not_an_object(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"data: [1, 2]\n\n",
                               headers={"content-type": "text/event-stream"})  # fmt: skip

    assert send(not_an_object).error_kind == "BadAnswer"

    def string_error(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b'data: {"error": "overloaded"}\n\n',
                               headers={"content-type": "text/event-stream"})  # fmt: skip

    record = send(string_error)
    assert record.error_kind == "StreamError" and "overloaded" in (record.error or "")
    whole = send(
        lambda request: httpx2.Response(200, json=["not", "an", "answer"]),
        streaming={"realtime": False},
    )
    assert whole.error_kind == "BadAnswer"


def test_the_total_timeout_bounds_a_request() -> None:
    async def slow(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(5)
        return httpx2.Response(200, json={})

    record = send(slow, timeout_s=0.05)
    assert record.error_kind == "TotalTimeout"


def test_chunk_text_and_error_bodies() -> None:
    assert chunk_text("chat", {"choices": [{"delta": {"content": "x"}}]}) == "x"
    assert chunk_text("chat", {"choices": [{"delta": {"role": "assistant"}}]}) == ""
    assert chunk_text("completions", {"choices": []}) == ""
    assert str(error_of(502, "<html>bad gateway</html>")) == "HTTP 502: <html>bad gateway</html>"
