"""The sync client's stopper: bounded `stop` resends on the request's own stream (no server)."""

from __future__ import annotations

import threading

import pytest
from tritonclient.grpc import InferResult, service_pb2
from tritonclient.utils import InferenceServerException

from tritonsla.routing import client as sync_client
from tritonsla.routing.client import _Inbox, _Pool, _Stopper

FAST_STOPS = (0.01, 0.02, 0.04)


class ScriptedClient:
    """An InferenceServerClient with an open stream: records stops, how the stream ended."""

    def __init__(self, inbox: _Inbox, answer_after: int | None) -> None:
        self.inbox = inbox
        self.answer_after = answer_after
        self.stops: list[tuple[str, str]] = []
        self.stopped_with: bool | None = None
        self.closed = False

    def async_stream_infer(self, model: str, inputs: list, *, request_id: str) -> None:
        assert [i.name() for i in inputs][-1] == "stop"
        self.stops.append((model, request_id))
        if len(self.stops) == self.answer_after:  # the engine lets go: the final response
            response = service_pb2.ModelInferResponse(id=request_id)
            response.parameters["triton_final_response"].bool_param = True
            self.inbox.put(InferResult(response), None)

    def stop_stream(self, cancel_requests: bool) -> None:
        self.stopped_with = cancel_requests

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def fast_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "STOP_RESEND_DELAYS_S", FAST_STOPS)


def stop(answer_after: int | None, inbox: _Inbox | None = None) -> tuple[ScriptedClient, _Pool]:
    """Hand a request to a stopper and wait for it to be done with the connection."""
    pool = _Pool()
    stopper = _Stopper(pool)
    inbox = inbox or _Inbox()
    client = ScriptedClient(inbox, answer_after)
    stopper.stop(client, "a:1", inbox, "realtime_tensorrt_llm", "r1")  # type: ignore[arg-type]
    for thread in [t for t in threading.enumerate() if t.name == "tritonsla-stop"]:
        thread.join(5)
    return client, pool


def test_stops_go_out_until_the_final_response_then_the_stream_half_closes():
    client, pool = stop(answer_after=2)
    assert client.stops == [("realtime_tensorrt_llm", "r1")] * 2
    assert client.stopped_with is False and not client.closed  # half-closed
    assert pool.acquire("a:1", 1.0) is client  # the connection is reused


def test_stops_are_bounded_and_the_stream_is_then_cancelled():
    client, _ = stop(answer_after=None)
    assert len(client.stops) == len(FAST_STOPS)
    assert client.stopped_with is True and client.closed


def test_a_request_that_already_ended_gets_no_stop():
    inbox = _Inbox()
    inbox.put(None, InferenceServerException("queue full"))  # an in-stream error ends it
    assert inbox.ended.is_set() and not inbox.broken
    client, _ = stop(answer_after=None, inbox=inbox)
    assert client.stops == [] and client.stopped_with is False and not client.closed


def test_discarding_a_replica_closes_only_its_idle_connections():
    pool = _Pool()
    inbox = _Inbox()
    gone = [ScriptedClient(inbox, None), ScriptedClient(inbox, None)]
    kept = ScriptedClient(inbox, None)
    for client in gone:
        pool.release("a:1", client)  # type: ignore[arg-type]
    pool.release("b:1", kept)  # type: ignore[arg-type]
    pool.discard("a:1")
    assert all(client.closed for client in gone) and not kept.closed
    assert pool.acquire("b:1", 1.0) is kept
