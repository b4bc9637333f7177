"""Routing decisions: class choice, admission, spill, Triton priority and timeout."""

from __future__ import annotations

import pytest

from tritonsla.profiles.schema import Profile, Queue, Slo
from tritonsla.routing.errors import DeadlineUnmeetableError, ReplicaUnavailableError
from tritonsla.routing.policy import (
    RouteRequest,
    RoutingPolicy,
    slo_bound_ms,
    triton_priority,
    triton_timeout_us,
)
from tritonsla.routing.table import Endpoint, Replica


@pytest.fixture
def policy(table) -> RoutingPolicy:
    return RoutingPolicy(table)


def test_roles_derived_from_the_slos(policy):
    assert policy.batch_sla == "batch"  # e2e 120 s: the loosest
    assert policy.default_sla == "interactive"  # the loosest of the rest


def test_explicit_roles_must_exist(table):
    policy = RoutingPolicy(table, default_sla="realtime", batch_sla="interactive")
    assert (policy.default_sla, policy.batch_sla) == ("realtime", "interactive")
    with pytest.raises(Exception, match="Available: realtime, interactive, batch"):
        RoutingPolicy(table, default_sla="gold")


def test_explicit_class_wins_over_priority_and_deadline(policy, view):
    request = RouteRequest(8, sla="batch", priority="high", deadline_ms=600_000)
    assert policy.decide(request, view).endpoint.sla == "batch"


@pytest.mark.parametrize(
    ("deadline_ms", "max_tokens", "expected"),
    [
        (200_000, 8, "batch"),  # batch promises 120 s
        (120_000, 8, "batch"),  # a bound equal to the deadline meets it
        (60_000, 8, "interactive"),  # 8 s
        (8_000, 64, "interactive"),  # realtime would promise 500 + 63 * 150 = 9950 ms
        (5_000, 8, "realtime"),  # 500 + 7 * 150 = 1550 ms: the only one that meets 5 s
        (100, 8, "realtime"),  # nothing meets it: the tightest class (admission decides)
    ],
)
def test_deadline_picks_the_loosest_class_that_meets_it(
    policy, view, deadline_ms, max_tokens, expected
):
    request = RouteRequest(max_tokens, deadline_ms=deadline_ms)
    assert policy.decide(request, view).endpoint.sla == expected


@pytest.mark.parametrize(
    ("priority", "expected"),
    [("low", "batch"), ("normal", "interactive"), ("high", "interactive"), (None, "interactive")],
)
def test_without_deadline_low_priority_is_batch_work(policy, view, priority, expected):
    assert policy.decide(RouteRequest(8, priority=priority), view).endpoint.sla == expected


def test_slo_bound():
    assert slo_bound_ms(Slo(e2e_ms=800, ttft_ms=100), 50) == 800
    assert slo_bound_ms(Slo(ttft_ms=200, itl_ms=30), 11) == 200 + 10 * 30
    assert slo_bound_ms(Slo(ttft_ms=200), 11) == 200
    assert slo_bound_ms(Slo(min_output_tokens_per_s=10), 11) is None


def test_admission_rejects_when_queue_plus_typical_latency_exceeds_the_deadline(policy, view):
    view.service["realtime"] = 100.0  # ms per token: 8 tokens = 800 ms
    view.queue["realtime"] = 300.0
    request = RouteRequest(8, sla="realtime", deadline_ms=1000)

    with pytest.raises(
        DeadlineUnmeetableError,
        match="class 'realtime' would answer in ~1100 ms "
        "but the deadline is 1000 ms; the request was not sent",
    ) as caught:
        policy.decide(request, view)
    assert (caught.value.estimate_ms, caught.value.deadline_ms) == (1100.0, 1000)

    view.queue["realtime"] = 100.0
    assert policy.decide(request, view).estimate_ms == 900.0


def test_full_batches_ahead_count_as_queue_wait(policy, view):
    view.service["realtime"] = 10.0  # 8 tokens: 80 ms
    view.ahead_by_class["realtime"] = 3  # fewer than max_batch_size 4: no wait
    request = RouteRequest(8, sla="realtime", deadline_ms=1000)
    assert policy.decide(request, view).estimate_ms == 80.0

    view.ahead_by_class["realtime"] = 9  # two full batches ahead
    assert policy.decide(request, view).estimate_ms == 80.0 * 3


def test_no_rejection_without_a_deadline_or_before_any_answer(policy, view):
    view.queue["realtime"] = 5_000.0
    assert policy.decide(RouteRequest(8, sla="realtime"), view).endpoint.sla == "realtime"
    fresh = RouteRequest(8, sla="interactive", deadline_ms=10)
    assert policy.decide(fresh, view).estimate_ms is None  # never answered, nothing queued


def test_spill_to_a_looser_class_only_when_allowed(policy, view):
    view.service.update(realtime=100.0, interactive=50.0, batch=10.0)
    view.queue["realtime"] = 2_000.0
    view.queue["interactive"] = 2_000.0
    strict = RouteRequest(8, deadline_ms=1_550)
    with pytest.raises(DeadlineUnmeetableError, match="'realtime'"):
        policy.decide(strict, view)

    spilled = policy.decide(RouteRequest(8, deadline_ms=1_550, allow_spill=True), view)
    assert spilled.endpoint.sla == "batch"  # interactive is full too; batch answers in 80 ms
    assert spilled.spilled_from == "realtime"
    assert spilled.estimate_ms == 80.0
    assert spilled.timeout_us is None  # batch takes no per-request deadlines


def test_spill_never_goes_to_a_tighter_class(policy, view):
    view.service.update(realtime=1.0, interactive=1_000.0, batch=1_000.0)
    request = RouteRequest(8, sla="interactive", deadline_ms=500, allow_spill=True)
    with pytest.raises(DeadlineUnmeetableError, match="'interactive'"):
        policy.decide(request, view)


def test_spill_also_covers_a_class_without_replicas(policy, view):
    view.full = {"realtime"}
    with pytest.raises(ReplicaUnavailableError, match="no replica of class 'realtime' is up"):
        policy.decide(RouteRequest(8, sla="realtime"), view)
    decision = policy.decide(RouteRequest(8, sla="realtime", allow_spill=True), view)
    assert decision.endpoint.sla == "interactive"


def test_excluded_replicas_are_skipped(policy, view):
    decision = policy.decide(RouteRequest(8), view, exclude=frozenset({"10.0.0.1:8001"}))
    assert decision.replica.address == "10.0.0.2:8001"


@pytest.mark.parametrize(
    ("levels", "default", "priority", "expected"),
    [
        (2, 2, "high", 1),
        (2, 2, "normal", 2),
        (2, 2, None, 2),
        (2, 1, "low", 2),
        (5, 3, "low", 5),
        (0, 0, "high", 0),  # no levels: nothing sent
    ],
)
def test_triton_priority(levels, default, priority, expected):
    queue = Queue(priority_levels=levels, default_priority_level=default)
    endpoint = Endpoint("c", "c_ensemble", (Replica("h:1"),), Profile(name="c", queue=queue))
    assert triton_priority(endpoint, priority) == expected


@pytest.mark.parametrize("priority", ["high", "low", None])
def test_triton_priority_on_a_shared_engine_is_the_class_level(priority):
    queue = Queue(priority_levels=2, default_priority_level=2)
    profile = Profile(name="c", queue=queue)
    endpoint = Endpoint("c", "c_ensemble", (Replica("h:1"),), profile, "tensorrt_llm", 3)
    assert triton_priority(endpoint, priority) == 3


def test_timeout_is_the_deadline_clamped_to_the_ceiling():
    queue = Queue(
        default_timeout_us=2_000_000, allow_timeout_override=True, per_request_deadlines=True
    )
    assert triton_timeout_us(queue, 750.5) == 750_500
    assert triton_timeout_us(queue, 60_000) == 2_000_000
    assert triton_timeout_us(queue, 0.0001) == 1
    assert triton_timeout_us(queue, None) is None
    assert triton_timeout_us(Queue(), 750) is None  # the class takes no deadlines


def test_decision_carries_priority_and_timeout_of_the_chosen_class(policy, view):
    decision = policy.decide(RouteRequest(8, priority="high", deadline_ms=5_000), view)
    assert (decision.endpoint.sla, decision.triton_priority) == ("realtime", 1)
    assert decision.timeout_us == 2_000_000  # 5 s clamped to realtime's 2 s ceiling
