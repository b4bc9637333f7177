"""Routing decisions (pure): which class and replica, with which Triton priority and timeout.

- An explicit class wins. Otherwise, with a deadline: the loosest class whose SLO bound still
  meets it (`slo_bound_ms`: e2e_ms, else ttft_ms + itl_ms per further token); without one:
  low-priority work to the batch class, the rest to the default class.
- Admission: estimated completion = live queue wait + the class's typical latency. Beyond the
  deadline the request is rejected (DeadlineUnmeetableError), or, with `allow_spill`, spilled
  to the first looser class whose estimate meets it.
- Triton priority: 1 (high) .. priority_levels (low), only when the class has levels. Triton
  timeout: the deadline in µs, clamped to the class's `default_timeout_us` ceiling, only when
  the class takes per-request deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from tritonsla.profiles.schema import Queue, Slo
from tritonsla.routing.errors import DeadlineUnmeetableError, ReplicaUnavailableError
from tritonsla.routing.table import Endpoint, EndpointTable, Replica

Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[str, ...] = ("high", "normal", "low")


@dataclass(frozen=True)
class RouteRequest:
    """What routing needs to know of a request."""

    max_tokens: int
    sla: str | None = None
    priority: Priority | None = None
    deadline_ms: float | None = None
    allow_spill: bool = False


@dataclass(frozen=True)
class Decision:
    """Where a request goes and what Triton is told about it."""

    endpoint: Endpoint
    replica: Replica
    triton_priority: int
    timeout_us: int | None
    estimate_ms: float | None
    spilled_from: str | None = None


class LoadView(Protocol):
    """Live state the policy reads: replica choice and latency estimates."""

    def pick(self, endpoint: Endpoint, exclude: frozenset[str]) -> Replica | None:
        """Least-loaded usable replica of `endpoint`, skipping addresses in `exclude`."""
        ...

    def ahead(self, endpoint: Endpoint, replica: Replica) -> float:
        """Requests in front of a new one on `replica`."""
        ...

    def queue_ms(self, endpoint: Endpoint, replica: Replica) -> float:
        """Recent mean queue time on `replica` (server metrics)."""
        ...

    def service_ms(self, endpoint: Endpoint, max_tokens: int) -> float | None:
        """Typical latency of `max_tokens` tokens on `endpoint`; None when unknown."""
        ...


def slo_bound_ms(slo: Slo, max_tokens: int) -> float | None:
    """The latency the class promises for `max_tokens` tokens; None without a latency SLO."""
    if slo.e2e_ms is not None:
        return slo.e2e_ms
    if slo.ttft_ms is None:
        return None
    return slo.ttft_ms + (slo.itl_ms or 0.0) * max(max_tokens - 1, 0)


def triton_priority(endpoint: Endpoint, priority: Priority | None) -> int:
    """Triton's priority for the request (1 highest); 0 = not sent (class has no levels).

    On a shared engine the class is the level: every request of the class gets it, so the
    engine's per-level queue policy is the class's.
    """
    if endpoint.engine_level:
        return endpoint.engine_level
    queue = endpoint.queue
    if queue.priority_levels == 0:
        return 0
    if priority == "high":
        return 1
    if priority == "low":
        return queue.priority_levels
    return queue.default_priority_level


def triton_timeout_us(queue: Queue, deadline_ms: float | None) -> int | None:
    """Triton's per-request timeout (µs) for the deadline; None = not sent."""
    if deadline_ms is None or not queue.per_request_deadlines:
        return None
    timeout = max(1, int(deadline_ms * 1000))
    return min(timeout, queue.default_timeout_us) if queue.default_timeout_us else timeout


def loosest_class(table: EndpointTable) -> str:
    """The class with the largest SLO bound (a class without a latency SLO counts as loosest)."""
    return max(table.endpoints, key=lambda sla: _looseness(table.endpoint(sla)))


def _looseness(endpoint: Endpoint) -> float:
    bound = slo_bound_ms(endpoint.slo, 1)
    return float("inf") if bound is None else bound


class RoutingPolicy:
    """Decisions over an endpoint table; `decide` is the per-request hot path."""

    def __init__(
        self, table: EndpointTable, *, default_sla: str | None = None, batch_sla: str | None = None
    ) -> None:
        self.table = table
        self.batch_sla = table.endpoint(batch_sla).sla if batch_sla else loosest_class(table)
        if default_sla:
            self.default_sla = table.endpoint(default_sla).sla
        else:
            others = [sla for sla in table.endpoints if sla != self.batch_sla]
            self.default_sla = (
                max(others, key=lambda sla: _looseness(table.endpoint(sla)))
                if others
                else self.batch_sla
            )
        self._by_looseness = tuple(
            sorted(table.endpoints.values(), key=lambda e: (_looseness(e), e.sla))
        )
        self._spill = {e.sla: self._looser_than(e) for e in self._by_looseness}

    def choose_class(self, request: RouteRequest) -> Endpoint:
        """The class of a request, before admission control."""
        if request.sla is not None:
            return self.table.endpoint(request.sla)
        if request.deadline_ms is None:
            sla = self.batch_sla if request.priority == "low" else self.default_sla
            return self.table.endpoints[sla]
        best: Endpoint | None = None
        best_bound = -1.0
        tightest: Endpoint | None = None
        tightest_bound = float("inf")
        for endpoint in self._by_looseness:
            bound = slo_bound_ms(endpoint.slo, request.max_tokens)
            if bound is None:
                continue
            if bound <= request.deadline_ms and bound > best_bound:
                best, best_bound = endpoint, bound
            if bound < tightest_bound:
                tightest, tightest_bound = endpoint, bound
        return best or tightest or self.table.endpoints[self.default_sla]

    def decide(
        self, request: RouteRequest, view: LoadView, exclude: frozenset[str] = frozenset()
    ) -> Decision:
        """Class, replica, priority and timeout of `request`; raises when it cannot be sent."""
        chosen = self.choose_class(request)
        candidates = self._spill.get(chosen.sla, (chosen,)) if request.allow_spill else (chosen,)
        rejection: DeadlineUnmeetableError | None = None
        for endpoint in candidates:
            replica = view.pick(endpoint, exclude)
            if replica is None:
                continue
            estimate = _estimate_ms(endpoint, replica, request.max_tokens, view)
            deadline = request.deadline_ms
            if deadline is not None and estimate is not None and estimate > deadline:
                rejection = rejection or DeadlineUnmeetableError(endpoint.sla, deadline, estimate)
                continue
            return Decision(
                endpoint,
                replica,
                triton_priority(endpoint, request.priority),
                triton_timeout_us(endpoint.queue, deadline),
                estimate,
                spilled_from=chosen.sla if endpoint is not chosen else None,
            )
        if rejection is not None:
            raise rejection
        names = ", ".join(r.address for r in chosen.replicas)
        raise ReplicaUnavailableError(
            f"no replica of class {chosen.sla!r} is up ({names}); they are probed with backoff"
        )

    def _looser_than(self, chosen: Endpoint) -> tuple[Endpoint, ...]:
        """`chosen`, then the classes looser than it, tightest first."""
        floor = _looseness(chosen)
        looser = tuple(e for e in self._by_looseness if e is not chosen and _looseness(e) >= floor)
        return (chosen, *looser)


def _estimate_ms(
    endpoint: Endpoint, replica: Replica, max_tokens: int, view: LoadView
) -> float | None:
    """Queue wait + typical latency; None when the class has never answered and nothing waits.

    The wait is the larger of the server's recent mean queue time and the full batches ahead
    (requests ahead // max_batch_size) times the typical latency.
    """
    service = view.service_ms(endpoint, max_tokens)
    queue = view.queue_ms(endpoint, replica)
    if service is None:
        return queue or None
    rounds = int(view.ahead(endpoint, replica) // endpoint.max_batch_size)
    return max(queue, rounds * service) + service
