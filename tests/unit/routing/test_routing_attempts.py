"""The attempt loop both clients drive: failover, revival, final errors (no server)."""

from __future__ import annotations

import pytest

from tritonsla.routing.attempts import Attempts
from tritonsla.routing.call import make_call
from tritonsla.routing.errors import (
    FirstTokenTimeoutError,
    ReplicaUnavailableError,
    ServerRejectedError,
    StreamBrokenError,
)
from tritonsla.routing.request import Reply
from tritonsla.routing.router import Router
from tritonsla.routing.table import EndpointTable
from tritonsla.routing.timeout import Timeout
from tritonsla.routing.transport import ReplicaDown


@pytest.fixture
def router(table: EndpointTable) -> Router:
    return Router(table)


def attempts_of(router: Router, dropped: list[str], **options) -> Attempts:
    call = make_call("hi", Timeout(30.0), sla="realtime", max_tokens=4, **options)
    return Attempts(router, call, drop=dropped.append)


def test_a_refused_replica_is_dropped_and_the_next_one_answers(router):
    dropped: list[str] = []
    attempts = attempts_of(router, dropped)
    first = attempts.next()
    with attempts.outcome():
        raise ReplicaDown("refused")
    assert attempts.result is None and dropped == [first.replica.address]
    second = attempts.next()
    assert second.replica.address != first.replica.address
    with attempts.outcome() as recorder:
        recorder.sent()
        recorder.take(Reply("ok", 1, True), 1)
    result = attempts.result
    assert (result.text, result.replica, result.attempts) == ("ok", second.replica.address, 2)
    assert router.load.outstanding(second.replica, second.endpoint) == 0


def test_a_full_queue_last_met_is_the_error_the_call_ends_with(router):
    dropped: list[str] = []
    attempts = attempts_of(router, dropped, request_id="r1")
    first = attempts.next()
    with attempts.outcome():
        raise ReplicaDown("refused")
    full = ServerRejectedError("b: queue full")
    attempts.next()
    with attempts.outcome():
        raise full  # alive but full: another replica may take it, this one stays up
    assert dropped == [first.replica.address]
    assert attempts.next() is None  # no replica left: the client probes the held-out ones
    with pytest.raises(ServerRejectedError) as caught:
        attempts.revived(False)
    assert caught.value is full and caught.value.__cause__ is None
    assert caught.value.result.request_id == "r1"


def test_a_revival_is_asked_for_once_per_call(router):
    for replica in router.table.endpoint("realtime").replicas:
        router.health.mark_down(replica.address, now=0.0)
    attempts = attempts_of(router, [])
    assert attempts.next() is None
    attempts.revived(True)  # another caller's round: still none up
    with pytest.raises(ReplicaUnavailableError, match="no replica of class 'realtime' is up"):
        attempts.next()


def test_a_failure_after_chunks_is_raised_with_the_partial_answer(router):
    attempts = attempts_of(router, [])
    attempts.next()
    with pytest.raises(StreamBrokenError) as caught, attempts.outcome() as recorder:
        recorder.take(Reply("par", 1, False), 1)
        raise StreamBrokenError("a: reset", recorder.chunks)
    assert caught.value.result.text == "par" and not caught.value.result.ok


def test_a_first_token_timeout_is_not_retried_and_drops_the_suspect(router):
    dropped: list[str] = []
    attempts = attempts_of(router, dropped)
    decision = attempts.next()
    with pytest.raises(FirstTokenTimeoutError), attempts.outcome():
        raise FirstTokenTimeoutError(30.0, decision.replica.address)
    assert dropped == [decision.replica.address]


def test_a_caller_that_leaves_frees_the_slot_and_drops_nothing(router):
    dropped: list[str] = []
    attempts = attempts_of(router, dropped)
    decision = attempts.next()
    assert router.load.outstanding(decision.replica, decision.endpoint) == 1
    with pytest.raises(GeneratorExit), attempts.outcome():
        raise GeneratorExit
    assert router.load.outstanding(decision.replica, decision.endpoint) == 0
    assert dropped == [] and attempts.result is None
