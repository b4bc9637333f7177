"""The ASGI side of one generation: noticing that its client left, and its SSE response.

Both run in the task that serves the request, with one watcher task beside it: TTFT is paid on
this path, so nothing here waits for the event loop to start another task before the first
token is sent.

- `ClientWatch` waits for `http.disconnect` and then cancels the serving task, which stops the
  SDK call (and so the request at the engine) wherever it waits: for the first token or for the
  next chunk. The handler absorbs that cancellation (`left`).
- `EventStream` writes `text/event-stream` (SSE): one `data: <event>` per event, events that
  are ready together in one write, a keep-alive comment after PING_S without one (proxies drop
  silent streams), and calls `on_close` however the stream ends, also when the client left
  before the first byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone

from starlette.types import Message, Receive, Scope, Send

PING_S = 15.0
"""SSE keep-alive comment interval while an answer is slow."""


class ClientWatch:
    """Cancels the current task when the client disconnects, until `close`."""

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        self._armed = True
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task | None = None
        # Started from the loop's next round, so that the tasks the SDK starts meanwhile (the
        # ones writing the request to the server) run first.
        asyncio.get_running_loop().call_soon(self._start, receive)

    def _start(self, receive: Receive) -> None:
        if self._armed:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        if self._armed and self._task is not None:
            self._task.cancel()

    def left(self) -> bool:
        """Whether the cancellation being handled is the client's leaving; if so it is absorbed
        (Python >= 3.11 counts cancellations, so the task is uncancelled)."""
        if not self.gone:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is not None:
            uncancel()
        return True

    def close(self) -> None:
        """Stop watching: the request is answered, or its answer is about to end."""
        self._armed = False
        if self._watcher is not None:
            self._watcher.cancel()


SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
)


def _headers(extra: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        *SSE_HEADERS,
        *((key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in extra.items()),
    ]


def _body(data: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


class EventStream:
    """An SSE response of `events` (each one `data:` line; a sequence of them is written at
    once), ended by `on_close` in every case.

    `watch` (the request's ClientWatch) is closed when the stream ends; a cancellation it caused
    ends the stream quietly. `ping` (seconds) 0 sends no keep-alive comments.
    """

    def __init__(
        self,
        events: AsyncGenerator[str | Sequence[str], None],
        on_close: Callable[[], Awaitable[None]],
        *,
        watch: ClientWatch | None = None,
        headers: Mapping[str, str] | None = None,
        ping: float = PING_S,
    ) -> None:
        self._events = events
        self._on_close = on_close
        self._watch = watch
        self._raw_headers = _headers(headers or {})
        self._ping_s = ping
        self._last_sent = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._pinging: asyncio.Task | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        watch = self._watch
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self._raw_headers})
            self._last_sent = loop.time()
            if self._ping_s > 0:
                self._timer = loop.call_later(self._ping_s, self._ping, send)
            async for batch in self._events:
                events = (batch,) if isinstance(batch, str) else batch
                await send(_body(b"".join(b"data: %s\n\n" % e.encode() for e in events)))
                self._last_sent = loop.time()
            await self._stop_pings()
            if watch is not None:
                watch.close()  # the end of the body also wakes the watcher
            await send(_body(b"", more=False))
        except asyncio.CancelledError:
            if watch is None or not watch.left():
                raise
        finally:
            if watch is not None:
                watch.close()  # first: a cancellation now would skip what follows
            await self._stop_pings()
            try:
                await self._events.aclose()  # the events' own cleanup, when they did not end
            finally:
                await self._on_close()

    def _ping(self, send: Send) -> None:
        """Timer: a keep-alive comment when nothing was sent for ping_s, then the next check."""
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_sent
        if quiet >= self._ping_s and (self._pinging is None or self._pinging.done()):
            comment = f": ping - {datetime.now(timezone.utc)}\n\n".encode()
            self._pinging = loop.create_task(send(_body(comment)))
            self._pinging.add_done_callback(_retrieve)
            self._last_sent = loop.time()
            quiet = 0.0
        self._timer = loop.call_later(self._ping_s - quiet, self._ping, send)

    async def _stop_pings(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pinging, self._pinging = self._pinging, None
        if pinging is not None and not pinging.done():
            await asyncio.gather(pinging, return_exceptions=True)


def _retrieve(task: asyncio.Task) -> None:
    """A ping that failed (the client left) fails nothing else: the stream's next send says so."""
    if not task.cancelled():
        task.exception()
