"""The shared router: fixed targets, live board bookkeeping, revival of held-out replicas."""

from __future__ import annotations

import pytest

from tritonsla.profiles.loading import load_deployment
from tritonsla.routing.errors import (
    ConnectTimeoutError,
    FirstTokenTimeoutError,
    InferenceFailedError,
    ReplicaUnavailableError,
    ServerRejectedError,
    TotalTimeoutError,
    UnknownEndpointError,
)
from tritonsla.routing.policy import RouteRequest
from tritonsla.routing.request import Reply
from tritonsla.routing.result import Recorder
from tritonsla.routing.router import Pin, Router
from tritonsla.routing.table import EndpointTable
from tritonsla.routing.transport import ReplicaDown
from tritonsla.server.ports import free_ports


@pytest.fixture
def router(table) -> Router:
    return Router(table)


@pytest.mark.parametrize(
    ("error", "answered", "retry", "health"),
    [
        (ReplicaDown("refused"), False, True, "down"),
        (ConnectTimeoutError(1.0, "a"), False, True, "down"),
        (FirstTokenTimeoutError(1.0, "a"), False, False, "suspect"),
        (TotalTimeoutError(1.0, "a"), False, False, "suspect"),  # no response at all
        (TotalTimeoutError(1.0, "a"), True, False, "up"),  # slow, not silent
        (TotalTimeoutError(0.001, "a"), False, False, "up"),  # the caller's own short deadline
        (ServerRejectedError("full"), False, True, "up"),
        (InferenceFailedError("bad input"), False, False, "up"),
    ],
)
def test_a_failed_attempt_judges_its_replica(router, error, answered, retry, health):
    decision = router.decide(RouteRequest(8, sla="realtime"), Pin())
    address = decision.replica.address
    router.started(decision)
    assert router.attempt_failed(decision, error, answered, first_token_s=1.0) is retry
    assert router.load.outstanding(decision.replica, decision.endpoint) == 0
    assert router.health.is_up(address) is (health == "up")
    if health == "suspect":  # held out, probed soon; a second timeout there waits longer
        router.health.mark_up(address)
        first = router.health.mark_suspect(address, now=0.0)
        assert first == pytest.approx(0.2)


def test_routed_decision_uses_the_live_boards(router):
    endpoint = router.table.endpoint("realtime")
    first, second = endpoint.replicas
    router.health.mark_down(first.address, now=0.0)
    decision = router.decide(RouteRequest(8, sla="realtime"), Pin())
    assert decision.replica == second

    router.started(decision)
    assert router.load.outstanding(second, endpoint) == 1
    router.finished(decision, None)
    assert router.load.outstanding(second, endpoint) == 0
    assert router.service_ms(endpoint, 8) is None  # nothing learned from a failure


def test_fixed_model_bypasses_class_choice_and_admission(router):
    request = RouteRequest(8, priority="high", deadline_ms=1.0)
    router.latency.observe_stream("batch_ensemble", 10_000.0, 10_000.0, 1)
    decision = router.decide(request, Pin(model="batch_ensemble"))
    assert (decision.endpoint.model, decision.triton_priority, decision.timeout_us) == (
        "batch_ensemble",
        0,
        None,
    )

    pinned = router.decide(request, Pin(model="realtime_ensemble", url="127.0.0.1:9"))
    assert pinned.replica.address == "127.0.0.1:9"
    assert (pinned.triton_priority, pinned.timeout_us) == (1, 1000)
    with pytest.raises(ReplicaUnavailableError, match="no replica of 'realtime_ensemble'"):
        router.decide(
            request, Pin(model="realtime_ensemble", url="127.0.0.1:9"), frozenset({"127.0.0.1:9"})
        )
    with pytest.raises(UnknownEndpointError, match="Available"):
        router.decide(request, Pin(model="nope"))


def test_url_alone_keeps_the_class_choice(router):
    decision = router.decide(RouteRequest(8, priority="low"), Pin(url="10.9.9.9:8001"))
    assert (decision.endpoint.sla, decision.replica.address) == ("batch", "10.9.9.9:8001")


def test_complete_answers_teach_latency_per_reported_token(router):
    decision = router.decide(RouteRequest(8, sla="interactive"), Pin())
    recorder = Recorder(decision, "r", streamed=True, send_ns=0)
    recorder.take(Reply("a", 1, False), 50_000_000)
    recorder.take(Reply("bc", 2, False), 70_000_000)  # a character that took two tokens
    recorder.take(Reply(None, None, True), 71_000_000)  # flags-only final: no chunk
    assert len(recorder.chunks) == 2 and router.output_tokens(recorder) == 3
    result = recorder.result(router.output_tokens(recorder))
    router.finished(decision, result)
    expected = 50.0 + 7 * (result.end_ns - 50_000_000) / 1e6 / 2
    assert router.service_ms(decision.endpoint, 8) == pytest.approx(expected, rel=1e-6)


def test_models_that_report_no_tokens_are_counted_by_chunks_when_streamed(router):
    decision = router.decide(RouteRequest(8, sla="interactive"), Pin())
    recorder = Recorder(decision, "r", streamed=True)
    for text in ("a", "b", "c"):
        recorder.take(Reply(text, None, False), 1)
    assert router.output_tokens(recorder) == 3


def test_token_count_of_whole_answers_needs_the_tokenizer(project):
    router = Router(EndpointTable.from_deployment(load_deployment(project.deploy)))
    assert router.count_tokens("hello world") is None  # empty tokenizer folder: never guess


def test_revive_probes_the_replicas_held_out_now(deployment):
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"  # nothing listens: the probe fails at once
    router = Router(EndpointTable.from_deployment(deployment, replicas=[address]))
    router.health.mark_suspect(address, now=0.0)
    assert router.health.held_out() == [address]
    assert router.revive(budget_s=1.0) is False
    assert not router.health.is_up(address)  # the failed probe keeps it out, with backoff


def test_a_replica_on_probation_takes_one_request_at_a_time(router):
    endpoint = router.table.endpoint("realtime")
    first, second = endpoint.replicas
    router.health.mark_suspect(first.address, now=0.0)
    router.health.mark_up(first.address)  # the probe answered: back, on probation
    taken = []
    for _ in range(4):
        decision = router.decide(RouteRequest(8, sla="realtime"), Pin())
        router.started(decision)
        taken.append(decision.replica)
    assert taken.count(first) == 1 and taken.count(second) == 3
    router.health.served(first.address)  # it answered a request: off probation
    assert not router.health.on_probation(first.address)
