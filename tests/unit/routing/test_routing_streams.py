"""The asyncio client's shared stream against a scripted gRPC call: answers by request id,
typed failures, deadlines, bounded stops of abandoned requests, dedicated streams, retired
connections (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tritonclient.grpc import service_pb2

from tritonsla.routing import (
    FirstTokenTimeoutError,
    InferenceFailedError,
    ServerRejectedError,
    StreamBrokenError,
    Timeout,
    TotalTimeoutError,
    streams,
)
from tritonsla.routing.call import make_call
from tritonsla.routing.policy import RouteRequest
from tritonsla.routing.result import Recorder
from tritonsla.routing.router import Pin, Router
from tritonsla.routing.streams import Connection, Exchange, Stream
from tritonsla.routing.table import EndpointTable

TARGET = "10.0.0.1:8001"
ENGINE = "realtime_tensorrt_llm"
FIVE_S = Timeout(5.0)


class ScriptedCall:
    """A ModelStreamInfer call: records what the client writes, answers what the test says."""

    def __init__(self, requests: AsyncIterator[service_pb2.ModelInferRequest]) -> None:
        self.written: list[service_pb2.ModelInferRequest] = []
        self.cancelled = False
        self._answers: asyncio.Queue = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._consume(requests))

    async def _consume(self, requests: AsyncIterator[service_pb2.ModelInferRequest]) -> None:
        async for message in requests:
            self.written.append(message)

    def answer(self, request_id: str, text: str | None = None, final: bool = False) -> None:
        response = service_pb2.ModelInferResponse(id=request_id)
        if text is not None:
            response.outputs.add(name="text_output", datatype="BYTES", shape=[1, 1])
            raw = text.encode()
            response.raw_output_contents.append(len(raw).to_bytes(4, "little") + raw)
            response.outputs.add(name="output_log_probs", datatype="FP32", shape=[1, 1, 2])
            response.raw_output_contents.append(bytes(8))
        if final:
            response.parameters["triton_final_response"].bool_param = True
        self._answers.put_nowait(service_pb2.ModelStreamInferResponse(infer_response=response))

    def error(self, request_id: str, message: str) -> None:
        response = service_pb2.ModelInferResponse(id=request_id)
        self._answers.put_nowait(
            service_pb2.ModelStreamInferResponse(error_message=message, infer_response=response)
        )

    def end(self) -> None:
        self._answers.put_nowait(None)

    def cancel(self) -> bool:
        self.cancelled = True
        self._answers.put_nowait(asyncio.CancelledError())
        return True

    def __aiter__(self) -> ScriptedCall:
        return self

    async def __anext__(self) -> service_pb2.ModelStreamInferResponse:
        item = await self._answers.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item


class ScriptedStub:
    def __init__(self) -> None:
        self.calls: list[ScriptedCall] = []

    def ModelStreamInfer(self, requests):  # the gRPC method's name
        self.calls.append(ScriptedCall(requests))
        return self.calls[-1]


class ScriptedChannel:
    """A grpc.aio channel whose ModelStreamInfer calls are ScriptedCalls; records `close`."""

    def __init__(self) -> None:
        self.stub = ScriptedStub()
        self.closed = False

    def stream_stream(self, method: str, **_: object) -> Callable:
        return self.stub.ModelStreamInfer

    def __getattr__(self, name: str) -> Callable:  # the stub's other methods: never called
        return lambda *args, **kwargs: None

    async def close(self) -> None:
        self.closed = True


FAST_STOPS = (0.01, 0.02, 0.04)


@pytest.fixture
def fast_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "STOP_RESEND_DELAYS_S", FAST_STOPS)


@pytest.fixture
def router(table: EndpointTable) -> Router:
    return Router(table)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=5))


def exchange(
    stream: Stream, router: Router, request_id: str, timeout: Timeout = FIVE_S
) -> Exchange:
    call = make_call("hi", timeout, sla="realtime", max_tokens=8, request_id=request_id)
    decision = router.decide(RouteRequest(8, sla="realtime"), Pin())
    recorder = Recorder(decision, request_id, True)
    found = Exchange(stream, recorder, call, incremental=True, engine_model=ENGINE)
    stream.send(service_pb2.ModelInferRequest(model_name="m", id=request_id), found)
    return found


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_answers_reach_their_request_by_id(router):
    async def test() -> None:
        stub = ScriptedStub()
        stream = Stream(stub, TARGET, dedicated=False)
        first, second = exchange(stream, router, "a"), exchange(stream, router, "b")
        call = stub.calls[0]
        call.answer("b", "x")
        call.answer("a", "y")
        call.answer("zzz", "late answer of an abandoned request")
        call.answer("a", "z", final=True)
        await first.wait()
        assert first.finished and [c.text for c in first.recorder.chunks] == ["y", "z"]
        assert first.recorder.tokens == 4
        await settle()
        assert [c.text for c in second.recorder.chunks] == ["x"] and not second.finished
        assert [m.id for m in call.written] == ["a", "b"]
        assert stream.carries("b") and not stream.carries("a")

    run(test)


def test_server_errors_are_typed_and_a_broken_stream_fails_the_rest(router):
    async def test() -> None:
        stub = ScriptedStub()
        stream = Stream(stub, TARGET, dedicated=False)
        full, bad, streaming = (exchange(stream, router, rid) for rid in ("f", "b", "s"))
        call = stub.calls[0]
        call.error("f", "[request id: f] Exceeds maximum queue size")
        call.error("b", "inference input 'top_k' data-type is 'FP32'")
        call.answer("s", "partial")
        call.end()
        with pytest.raises(ServerRejectedError):
            await full.wait()
        with pytest.raises(InferenceFailedError, match="top_k"):
            await bad.wait()
        await stream.reader
        with pytest.raises(StreamBrokenError, match="ended before the final") as caught:
            await streaming.wait()
        assert [c.text for c in caught.value.chunks] == ["partial"]
        assert stream.broken

    run(test)


def test_first_token_then_total_deadlines(router):
    async def test() -> None:
        stream = Stream(ScriptedStub(), TARGET, dedicated=False)
        silent = exchange(stream, router, "s", Timeout(5.0, first_token=0.01))
        with pytest.raises(FirstTokenTimeoutError):
            await silent.wait()
        slow = exchange(stream, router, "t", Timeout(0.05, first_token=0.01))
        stream._call.answer("t", "first")  # type: ignore[attr-defined]
        await slow.wait()  # the first chunk moved the deadline to the total budget
        with pytest.raises(TotalTimeoutError):
            await slow.wait()

    run(test)


def test_abandoned_requests_are_stopped_at_their_engine_until_they_end(router, fast_stops):
    async def test() -> None:
        stub = ScriptedStub()
        stream = Stream(stub, TARGET, dedicated=False)
        gone = exchange(stream, router, "g")
        gone.abandon()
        await asyncio.sleep(FAST_STOPS[0] * 1.5)  # the engine did not have it yet: sent again
        call = stub.calls[0]
        stops = [m for m in call.written if m.model_name == ENGINE]
        assert len(stops) == 2 and {m.id for m in stops} == {"g"}
        assert stream.stopping() and not call.cancelled  # the shared stream stays open
        call.answer("g", "ignored")
        call.answer("g", final=True)
        await settle()
        assert not gone.recorder.chunks and not stream.stopping()
        written = len(call.written)
        await asyncio.sleep(sum(FAST_STOPS))
        assert len(call.written) == written  # ended: no more stops

    run(test)


def test_stops_are_bounded_when_no_final_response_comes(router, fast_stops):
    async def test() -> None:
        stub = ScriptedStub()
        shared = Stream(stub, TARGET, dedicated=False)
        exchange(shared, router, "s").abandon()
        dedicated = Stream(stub, TARGET, dedicated=True)
        exchange(dedicated, router, "d").abandon()
        await asyncio.sleep(sum(FAST_STOPS) * 2)
        shared_call, dedicated_call = stub.calls
        for call in stub.calls:  # one stop per entry of the schedule, then no more
            assert len([m for m in call.written if m.model_name == ENGINE]) == len(FAST_STOPS)
        assert not shared.stopping() and not shared.broken and not shared_call.cancelled
        assert dedicated.broken and dedicated_call.cancelled  # Triton drops it if queued

    run(test)


def test_a_dedicated_stream_stops_its_request_then_half_closes(router, fast_stops):
    async def test() -> None:
        stub = ScriptedStub()
        stopped = Stream(stub, TARGET, dedicated=True)
        exchange(stopped, router, "c").abandon()
        await settle()
        call = stub.calls[0]
        assert [m.model_name for m in call.written] == ["m", ENGINE] and not call.cancelled
        call.answer("c", final=True)  # the engine let go
        await settle()
        assert call._writer.done() and not call.cancelled  # half-closed, not cancelled

        done = Stream(stub, TARGET, dedicated=True)
        answered = exchange(done, router, "d")
        stub.calls[1].answer("d", "x", final=True)
        await answered.wait()
        await settle()
        writer = stub.calls[1]._writer
        assert writer.done() and not stub.calls[1].cancelled  # half-closed, not cancelled

        other = Stream(stub, TARGET, dedicated=True)  # a model with no engine to stop
        found = exchange(other, router, "o")
        found.engine_model = None
        found.abandon()
        await other.reader
        assert stub.calls[2].cancelled and other.broken

    run(test)


def test_a_retired_connection_closes_once_its_requests_ended(router, fast_stops):
    async def test() -> None:
        channel = ScriptedChannel()
        connection = Connection(channel, TARGET)  # type: ignore[arg-type]
        stream = connection.stream("a", dedicated=False)
        running = exchange(stream, router, "a")
        retiring = asyncio.create_task(connection.retire())
        await asyncio.sleep(sum(FAST_STOPS))
        assert not channel.closed  # the request in flight ends first, with its own answer
        channel.stub.calls[0].answer("a", "x", final=True)
        await running.wait()
        await retiring
        assert channel.closed and running.finished

    run(test)


def test_closing_half_closes_an_idle_stream_and_cancels_a_busy_one(router):
    async def test() -> None:
        stub = ScriptedStub()
        idle = Stream(stub, TARGET, dedicated=False)
        idle.close()
        await settle()
        assert stub.calls[0]._writer.done() and not stub.calls[0].cancelled

        busy = Stream(stub, TARGET, dedicated=False)
        waiting = exchange(busy, router, "w")
        busy.close()
        await busy.reader
        assert stub.calls[1].cancelled
        with pytest.raises(StreamBrokenError):
            await waiting.wait()

    run(test)
