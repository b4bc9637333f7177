"""The asyncio client's gRPC streams: one long-lived stream per replica carries many requests.

Triton's ModelStreamInfer is bidirectional: requests are written as they are made and every
response, errors included, comes back tagged with its request's id, so one reader task hands
each response to its request's `Exchange` (perf_analyzer --streaming works the same way). Per
response the client only parses; a request has one deadline timer, and its consumer wakes for
each chunk (`incremental`) or only at the end.

Cancelling one request: Triton 2.51 cancels whole gRPC calls only, and does not pass a
cancellation on to the engine behind an ensemble, so an abandoned request is stopped the
TensorRT-LLM way, by a `stop` request to its engine carrying its id, sent on the request's stream
per STOP_RESEND_DELAYS_S until its final response comes (a request still queued before the
engine is not found by an early stop). A `dedicated` stream carries one request: it is
half-closed once that request ends, or cancelled when the stop schedule runs out (Triton then
drops a request still queued). A model outside the contract has no engine to stop: a dedicated
stream is cancelled at once; on the shared stream its answer finishes and is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tritonsla.routing.call import Call
from tritonsla.routing.errors import (
    FirstTokenTimeoutError,
    RequestError,
    StreamBrokenError,
    TotalTimeoutError,
)
from tritonsla.routing.request import (
    STOP_RESEND_DELAYS_S,
    Reply,
    parse_response,
    stop_request,
)
from tritonsla.routing.result import Recorder
from tritonsla.routing.transport import as_server_exception, classify

POLL_S = 0.025
"""How often closing checks whether stopped or in-flight requests have ended."""
CLOSE_GRACE_S = 2.0
"""Closing waits up to this long for stopped requests to end: cancelling the stream under them
would make Triton cancel them too (and the BLS model of Triton 2.51 may then not unload)."""


class Exchange:
    """One request on a stream: its chunks as they arrive, its end, and its deadline timer.

    The timer first runs to the first-token deadline, then (after the first chunk) to the call's
    total budget; when it fires the exchange fails with the phase's timeout error.
    """

    def __init__(
        self,
        stream: Stream,
        recorder: Recorder,
        call: Call,
        *,
        incremental: bool,
        engine_model: str | None,
    ) -> None:
        self.stream = stream
        self.recorder = recorder
        self.call = call
        self.incremental = incremental
        self.engine_model = engine_model
        self.finished = False
        self.abandoned = False
        self.error: RequestError | None = None
        self._loop = stream.loop
        self._waiter: asyncio.Future[None] | None = None
        now = self._loop.time()
        self._total_at = now + call.remaining_s()
        self._timer_at = min(now + call.timeout.first_token, self._total_at)
        self._timer = self._loop.call_at(self._timer_at, self._expire)

    @property
    def deadline(self) -> float:
        """Loop time at which the call's budget runs out."""
        return self._total_at

    @property
    def request_id(self) -> str:
        return self.recorder.request_id

    def deliver(self, reply: Reply, arrival_ns: int) -> None:
        """One response of this request (called by the stream's reader)."""
        if self.error is not None:
            return  # timed out: the answer no longer counts
        first = not self.recorder.chunks
        chunk = self.recorder.take(reply, arrival_ns)
        if chunk is not None and first and self._timer_at < self._total_at:
            self._timer.cancel()
            self._timer_at = self._total_at
            self._timer = self._loop.call_at(self._total_at, self._expire)
        if reply.final:
            self.finished = True
            self._timer.cancel()
            self._wake()
        elif chunk is not None and self.incremental:
            self._wake()

    def fail(self, error: RequestError) -> None:
        """End the exchange with `error` (a server answer, a broken stream, a timeout)."""
        if self.finished or self.error is not None:
            return
        self.error = error
        self._timer.cancel()
        self._wake()

    async def wait(self) -> None:
        """Until the next chunk (incremental) or the end; raises the exchange's error."""
        if not self.finished and self.error is None:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """The caller stops waiting (cancelled, timed out, closed early): cancel on the server."""
        self.abandoned = True
        self._timer.cancel()
        self.stream.abandon(self)

    def _expire(self) -> None:
        if self.recorder.chunks or self._timer_at >= self._total_at:
            self.fail(TotalTimeoutError(self.call.budget_s, self.stream.target))
        else:
            self.fail(FirstTokenTimeoutError(self.call.timeout.first_token, self.stream.target))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Stream:
    """One ModelStreamInfer call to a replica and the exchanges in flight on it."""

    def __init__(
        self, stub: service_pb2_grpc.GRPCInferenceServiceStub, target: str, *, dedicated: bool
    ) -> None:
        self.target = target
        self.dedicated = dedicated
        self.broken = False
        self._open: dict[str, Exchange] = {}
        self._outbox: asyncio.Queue[service_pb2.ModelInferRequest | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self._call = stub.ModelStreamInfer(self._outgoing())
        self.reader = self.loop.create_task(self._read(), name=f"tritonsla-stream-{target}")

    def carries(self, request_id: str) -> bool:
        """Whether a request with this id is in flight here (ids must be unique per stream)."""
        return request_id in self._open

    def busy(self) -> bool:
        """Whether a request is in flight (or being stopped) here."""
        return bool(self._open)

    def settled_by(self) -> float:
        """Loop time by which every request here has ended: its deadline, then its stops."""
        deadlines = [exchange.deadline for exchange in self._open.values()]
        return max(deadlines, default=0.0) + sum(STOP_RESEND_DELAYS_S)

    def stopping(self) -> bool:
        """Whether abandoned requests still wait for their stop to end them on the server."""
        return not self.broken and any(e.abandoned for e in self._open.values())

    def send(self, message: service_pb2.ModelInferRequest, exchange: Exchange) -> None:
        """Write `message`; its responses go to `exchange`."""
        self._open[message.id] = exchange
        self._outbox.put_nowait(message)

    def abandon(self, exchange: Exchange) -> None:
        """Stop `exchange` on the server (see the module docstring); its answers are dropped."""
        request_id = exchange.request_id
        if self._open.get(request_id) is not exchange:
            return  # already over on the server
        if exchange.engine_model is None:
            self._give_up(exchange)
            return
        self._stop(exchange, stop_request(exchange.engine_model, request_id), 0)

    def close(self) -> None:
        """End the call: half-close it when nothing is in flight (a cancellation right after an
        answer can leave Triton 2.51's ensemble counting a request, so it never unloads), else
        cancel it (requests still open fail; a dedicated stream's own was abandoned)."""
        if not self.broken:
            self.broken = True
            self._outbox.put_nowait(None)
            if self._open:
                self.cancel()

    def cancel(self) -> None:
        """Cancel the gRPC call, unless it has ended."""
        if not self.reader.done():
            self._call.cancel()

    def _stop(self, exchange: Exchange, stop: service_pb2.ModelInferRequest, sent: int) -> None:
        """Send `stop` (the `sent`-th time), and again after its wait, until the request ends."""
        if self._open.get(exchange.request_id) is not exchange:
            return  # the final response came: the engine let go of the request
        if self.broken or sent == len(STOP_RESEND_DELAYS_S):
            self._give_up(exchange)
            return
        self._outbox.put_nowait(stop)
        self.loop.call_later(STOP_RESEND_DELAYS_S[sent], self._stop, exchange, stop, sent + 1)

    def _give_up(self, exchange: Exchange) -> None:
        """Forget an abandoned request; a dedicated stream is cancelled (Triton sees that)."""
        del self._open[exchange.request_id]
        if self.dedicated and not self.broken:
            self.broken = True
            self.cancel()

    async def _outgoing(self) -> AsyncIterator[service_pb2.ModelInferRequest]:
        while True:
            message = await self._outbox.get()
            if message is None:
                return
            yield message

    async def _read(self) -> None:
        ended: InferenceServerException | None = None
        try:
            async for message in self._call:
                self._dispatch(message, time.perf_counter_ns())
        except grpc.RpcError as error:
            ended = as_server_exception(error)
        except asyncio.CancelledError:
            if not self.broken:  # not our own close: the task itself was cancelled
                raise
        finally:
            self.broken = True
            self._fail_open(ended)

    def _dispatch(self, message: service_pb2.ModelStreamInferResponse, arrival_ns: int) -> None:
        response = message.infer_response
        exchange = self._open.get(response.id)
        if exchange is None:
            return  # a late answer of an abandoned request
        if message.error_message:
            self._release(response.id)
            error = InferenceServerException(msg=message.error_message)
            chunks = exchange.recorder.chunks
            exchange.fail(classify(error, self.target, chunks, exchange.call.budget_s))
            return
        reply = parse_response(response)
        if reply.final:
            self._release(response.id)
        if not exchange.abandoned:
            exchange.deliver(reply, arrival_ns)

    def _release(self, request_id: str) -> None:
        """The request is over on the server; a dedicated stream then ends (half-close)."""
        del self._open[request_id]
        if self.dedicated:
            self._outbox.put_nowait(None)

    def _fail_open(self, error: InferenceServerException | None) -> None:
        """Fail every exchange still open: the call failed (`error`) or ended without answers."""
        exchanges = list(self._open.values())
        self._open.clear()
        for exchange in exchanges:
            chunks = exchange.recorder.chunks
            if error is None:
                message = f"{self.target}: the stream ended before the final response"
                exchange.fail(StreamBrokenError(message, chunks))
            else:
                exchange.fail(classify(error, self.target, chunks, exchange.call.budget_s))


class Connection:
    """A replica's channel: its shared stream (replaced once broken) and dedicated streams."""

    def __init__(self, channel: grpc.aio.Channel, target: str) -> None:
        self.channel = channel
        self.target = target
        self._stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        self._shared: Stream | None = None
        self._streams: set[Stream] = set()

    def stream(self, request_id: str, *, dedicated: bool) -> Stream:
        """The shared stream, or a new dedicated one (asked for, or `request_id` is in flight)."""
        if not dedicated:
            shared = self._shared
            if shared is None or shared.broken:
                shared = self._shared = self._open(dedicated=False)
            if not shared.carries(request_id):
                return shared
        return self._open(dedicated=True)

    def _open(self, *, dedicated: bool) -> Stream:
        stream = Stream(self._stub, self.target, dedicated=dedicated)
        self._streams.add(stream)
        stream.reader.add_done_callback(lambda _: self._streams.discard(stream))
        return stream

    async def retire(self) -> None:
        """Close once the requests on this connection have ended (each by its deadline or its
        stop schedule: bounded). Closing at once would fail them with the wrong error."""
        loop = asyncio.get_running_loop()
        until = max((stream.settled_by() for stream in self._streams), default=0.0)
        while any(stream.busy() for stream in self._streams) and loop.time() < until:
            await asyncio.sleep(POLL_S)
        await self.close()

    async def close(self) -> None:
        """End every stream (once its stopped requests ended, within CLOSE_GRACE_S), wait for
        their readers (cancelling streams the server does not end in time), close the channel."""
        streams = list(self._streams)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_GRACE_S
        while any(stream.stopping() for stream in streams) and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
        for stream in streams:
            stream.close()
        readers = [stream.reader for stream in streams]
        if readers:
            await asyncio.wait(readers, timeout=max(deadline - loop.time(), POLL_S))
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        await self.channel.close()
