"""The gateway's SSE response and disconnect watch, driven as uvicorn drives an ASGI app; the
per-token chunks it sends."""

from __future__ import annotations

import asyncio
import json

from tritonsla.gateway.responses import Shape
from tritonsla.gateway.streaming import ClientWatch, EventStream

SCOPE = {"type": "http", "method": "POST", "asgi": {"spec_version": "2.4"}}


class Peer:
    """The server side of one connection: what was sent, and a disconnect on demand."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.left = asyncio.Event()

    async def receive(self) -> dict:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def test_events_are_data_lines_and_the_end_closes_once() -> None:
    closed: list[bool] = []

    async def events():
        yield '{"a":1}'
        yield ['{"b":2}', "[DONE]"]  # ready together: one write

    async def on_close() -> None:
        closed.append(True)

    async def run() -> Peer:
        peer = Peer()
        watch = ClientWatch(peer.receive)
        response = EventStream(events(), on_close, watch=watch, headers={"x-sla-class": "rt"})
        await response(SCOPE, peer.receive, peer.send)
        return peer

    peer = asyncio.run(run())
    start, *bodies = peer.sent
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-sla-class"] == b"rt"
    assert [m["body"] for m in bodies] == [
        b'data: {"a":1}\n\n',
        b'data: {"b":2}\n\ndata: [DONE]\n\n',
        b"",
    ]
    assert [m["more_body"] for m in bodies] == [True, True, False]
    assert closed == [True]


def test_a_quiet_stream_is_kept_alive_with_comments() -> None:
    async def events():
        await asyncio.sleep(0.3)
        yield "late"

    async def on_close() -> None:
        pass

    async def run() -> Peer:
        peer = Peer()
        await EventStream(events(), on_close, ping=0.05)(SCOPE, peer.receive, peer.send)
        return peer

    body = asyncio.run(run()).body()
    assert body.startswith(b": ping - ")
    assert body.endswith(b"\n\ndata: late\n\n")


def test_a_client_that_leaves_mid_stream_ends_it_quietly() -> None:
    seen: list[str] = []
    closed: list[bool] = []

    async def events():
        try:
            yield "first"
            await asyncio.sleep(30)  # a slow engine
            yield "never"
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def on_close() -> None:
        closed.append(True)

    async def serve(peer: Peer) -> None:  # the task serving the request watches it
        watch = ClientWatch(peer.receive)
        await EventStream(events(), on_close, watch=watch)(SCOPE, peer.receive, peer.send)

    async def run() -> Peer:
        peer = Peer()
        serving = asyncio.ensure_future(serve(peer))
        await asyncio.sleep(0.05)
        peer.left.set()
        await asyncio.wait_for(serving, 5)  # returns: the cancellation was absorbed
        return peer

    peer = asyncio.run(run())
    assert peer.body() == b"data: first\n\n"
    assert (seen, closed) == (["cancelled"], [True])


def test_the_watch_cancels_a_wait_only_while_armed() -> None:
    async def run() -> tuple[bool, bool]:
        peer = Peer()
        watch = ClientWatch(peer.receive)
        try:
            peer.left.set()
            await asyncio.sleep(30)  # waiting for a first token
            stopped = False
        except asyncio.CancelledError:
            stopped = watch.left()
        watch.close()
        quiet = ClientWatch(peer.receive)
        quiet.close()
        await asyncio.sleep(0.05)  # a closed watch cancels nothing
        return stopped, quiet.left()

    assert asyncio.run(run()) == (True, False)


def test_text_chunks_are_the_bytes_a_whole_dump_gives() -> None:
    for kind in ("completion", "chat"):
        shape = Shape(kind, 'tiny-gpt2:"rt"é')
        for text in ("", ' he said "hi"\n', "日本語", "\x00text\x00", "\u2028"):
            fast = json.loads(shape.chunk(text))
            assert shape.chunk(text) == shape._dump_chunk(text, None, False)
            choice = fast["choices"][0]
            assert (choice["delta"]["content"] if kind == "chat" else choice["text"]) == text
