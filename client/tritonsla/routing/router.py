"""The routing state both clients share: table, policy, live load, health, latency.

`Router.decide` is the per-request decision (policy over the live boards); `finished` and
`attempt_failed` feed each attempt's outcome back (latency learned, replica marked down or
suspect, whether to try another replica). `tritonsla.routing.attempts` runs a call's attempts
over them; the transport (and the typed errors of its failures) lives in
`tritonsla.routing.transport` and the clients.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass

from tritonsla.errors import ModelDataError
from tritonsla.routing.errors import (
    ConnectTimeoutError,
    ReplicaUnavailableError,
    RequestError,
    RequestTimeoutError,
    ServerRejectedError,
)
from tritonsla.routing.health import PROBE_TIMEOUT_S, HealthBoard, probe_ready
from tritonsla.routing.latency import LatencyTracker
from tritonsla.routing.load import LoadBoard
from tritonsla.routing.policy import (
    Decision,
    RouteRequest,
    RoutingPolicy,
    triton_priority,
    triton_timeout_us,
)
from tritonsla.routing.result import GenerationResult, Recorder
from tritonsla.routing.table import Endpoint, EndpointTable, Replica
from tritonsla.routing.transport import ReplicaDown
from tritonsla.text.tokenizer import TextTokenizer, load_tokenizer


@dataclass(frozen=True)
class Pin:
    """A caller's fixed target: a model (routing bypassed) and/or a replica address."""

    model: str | None = None
    url: str | None = None


class Router:
    """Shared state of SlaClient and AsyncSlaClient; implements the policy's LoadView."""

    def __init__(
        self,
        table: EndpointTable,
        *,
        default_sla: str | None = None,
        batch_sla: str | None = None,
    ) -> None:
        self.table = table
        self.policy = RoutingPolicy(table, default_sla=default_sla, batch_sla=batch_sla)
        self.load = LoadBoard()
        self.health = HealthBoard()
        self.latency = LatencyTracker()
        self._reviving = threading.Lock()

    # --- LoadView ----------------------------------------------------------------------------
    def pick(self, endpoint: Endpoint, exclude: frozenset[str]) -> Replica | None:
        """Least outstanding among the replicas up; one on probation only when it is idle."""
        health = self.health
        load = self.load

        def usable(replica: Replica) -> bool:
            address = replica.address
            return (
                address not in exclude
                and health.is_up(address)
                and not (health.on_probation(address) and load.outstanding(replica, endpoint))
            )

        return load.least_outstanding(endpoint, usable)

    def ahead(self, endpoint: Endpoint, replica: Replica) -> float:
        return self.load.score(replica, endpoint)

    def queue_ms(self, endpoint: Endpoint, replica: Replica) -> float:
        return self.load.load(replica, endpoint).queue_ms

    def service_ms(self, endpoint: Endpoint, max_tokens: int) -> float | None:
        return self.latency.estimate_ms(endpoint.model, max_tokens)

    # --- decisions ---------------------------------------------------------------------------
    def decide(
        self, request: RouteRequest, pin: Pin, tried: frozenset[str] = frozenset()
    ) -> Decision:
        """Route by policy, or to the caller's fixed model and/or replica (no admission)."""
        if pin.model is None and pin.url is None:
            return self.policy.decide(request, self, tried)
        endpoint = (
            self.table.for_model(pin.model)
            if pin.model is not None
            else self.policy.choose_class(request)
        )
        if pin.url is not None:  # pinned: health is not tracked for an ad-hoc address
            endpoint = self.table.for_model(endpoint.model, pin.url)
            replica = endpoint.replicas[0] if pin.url not in tried else None
        else:
            replica = self.pick(endpoint, tried)
        if replica is None:
            names = ", ".join(r.address for r in endpoint.replicas)
            raise ReplicaUnavailableError(f"no replica of {endpoint.model!r} is up ({names})")
        return Decision(
            endpoint,
            replica,
            triton_priority(endpoint, request.priority),
            triton_timeout_us(endpoint.queue, request.deadline_ms),
            None,
        )

    def started(self, decision: Decision) -> None:
        self.load.begin(decision.replica, decision.endpoint)

    def finished(self, decision: Decision, result: GenerationResult | None) -> None:
        """Release the slot; learn the latency of a complete answer (None: no answer)."""
        self.load.end(decision.replica, decision.endpoint)
        if result is None or result.send_ns is None or not result.chunks:
            return
        self.health.served(decision.replica.address)
        e2e_ms = (result.end_ns - result.send_ns) / 1e6
        if result.streamed:
            ttft_ms = (result.chunks[0].arrival_ns - result.send_ns) / 1e6
            tokens = result.output_tokens or len(result.chunks)
            self.latency.observe_stream(decision.endpoint.model, ttft_ms, e2e_ms, tokens)
        elif result.output_tokens:
            self.latency.observe_whole(decision.endpoint.model, e2e_ms, result.output_tokens)

    def attempt_failed(
        self, decision: Decision, error: RequestError, answered: bool, *, first_token_s: float
    ) -> bool:
        """Release the slot and judge the replica by `error`: refused or silent while connecting
        marks it down; a timeout before any response (`answered`: one came) marks it suspect,
        unless the request gave up sooner than the first-token timeout `first_token_s` (its own
        short deadline says nothing of the replica). Either way it is probed before it serves
        again. True when another replica may take the request: those cases but the timeout, and
        a full queue (alive but not now)."""
        self.load.end(decision.replica, decision.endpoint)
        address = decision.replica.address
        if isinstance(error, ReplicaDown | ConnectTimeoutError):
            self.health.mark_down(address, time.monotonic())
            return True
        if (
            isinstance(error, RequestTimeoutError)
            and not answered
            and error.seconds >= first_token_s
        ):
            self.health.mark_suspect(address, time.monotonic())
        return isinstance(error, ServerRejectedError)

    def revive(self, budget_s: float) -> bool:
        """Probe every replica out of rotation now (each within PROBE_TIMEOUT_S and `budget_s`);
        True when one answered and is back. For a request that finds none left: a lone replica
        is not refused for its backoff once it answers. One round at a time: callers that
        waited for another's round see its outcome."""
        with self._reviving:
            held_out = self.health.held_out()
            if not held_out:
                return True  # another caller's round brought them back
            revived = False
            for address in held_out:
                if probe_ready(address, min(PROBE_TIMEOUT_S, budget_s)):
                    self.health.mark_up(address)
                    revived = True
                else:
                    self.health.mark_down(address, time.monotonic())
            return revived

    # --- results -----------------------------------------------------------------------------
    @functools.cached_property
    def tokenizer(self) -> TextTokenizer | None:
        """The deploy's tokenizer, loaded once; None when it cannot be loaded."""
        deployment = self.table.deployment
        try:
            return load_tokenizer(deployment.path(deployment.deploy.model.tokenizer))
        except ModelDataError:
            return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens of a non-streamed answer by the deploy's tokenizer; None when unavailable."""
        tokenizer = self.tokenizer
        return None if tokenizer is None else len(tokenizer.encode(text, add_special_tokens=False))

    def output_tokens(self, recorder: Recorder) -> int | None:
        """A complete answer's tokens: as the model reported them, else estimated (chunks when
        streamed, the tokenizer otherwise) for models outside the contract."""
        if recorder.tokens is not None:
            return recorder.tokens
        if recorder.streamed:
            return len(recorder.chunks)
        return self.count_tokens("".join(chunk.text for chunk in recorder.chunks))
