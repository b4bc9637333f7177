"""Replicas of a class's engine under Poisson arrivals, as a discrete-event simulation (simpy).

Requests go to the replica with the fewest outstanding requests (as the SDK and gateway route)
and reach its engine after the model's pipeline delay; each replica admits waiting requests into
free slots at every step (in-flight batching) and runs steps as its EngineModel times them.
TTFT counts from arrival to the end of the request's first step; ITL is a request's mean gap
between tokens, (end - first) / (tokens - 1), as the bench measures it; end-to-end from arrival
to the last token. The first `warmup_s` are left out.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import simpy

from tritonsla.plan.engine_model import EngineModel


@dataclass(frozen=True)
class Traffic:
    """One class's arrivals and token lengths."""

    requests_per_s: float
    input_tokens: float
    output_tokens: int


@dataclass
class _Request:
    arrival: float
    input_tokens: float
    output_tokens: int
    done: int = 0
    first: float | None = None


@dataclass
class Observed:
    """Per-request latencies (ms) of the requests that arrived after the warm-up."""

    ttft_ms: list[float] = field(default_factory=list)
    itl_ms: list[float] = field(default_factory=list)
    e2e_ms: list[float] = field(default_factory=list)
    unfinished: int = 0

    def percentile(self, metric: str, q: float) -> float | None:
        values = getattr(self, metric)
        return float(np.percentile(values, q)) if values else None


def _replica(
    env: simpy.Environment,
    model: EngineModel,
    inbox: simpy.Store,
    outstanding: list[int],
    index: int,
    observed: Observed,
    warmup_s: float,
) -> Generator[simpy.Event, object, None]:
    running: list[_Request] = []
    while True:
        admitted: list[_Request] = []
        if not running:
            admitted.append((yield inbox.get()))  # idle: wait for work
        while inbox.items and len(running) + len(admitted) < model.slots:
            admitted.append((yield inbox.get()))
        running += admitted
        prompt = sum(r.input_tokens for r in admitted)
        yield env.timeout(model.step(len(running), prompt) / 1000.0)
        now = env.now
        still: list[_Request] = []
        for request in running:
            request.done += 1
            if request.first is None:
                request.first = now
            if request.done < request.output_tokens:
                still.append(request)
                continue
            outstanding[index] -= 1
            if request.arrival >= warmup_s:
                observed.ttft_ms.append((request.first - request.arrival) * 1000)
                observed.e2e_ms.append((now - request.arrival) * 1000)
                if request.output_tokens > 1:
                    gap = (now - request.first) / (request.output_tokens - 1)
                    observed.itl_ms.append(gap * 1000)
        running = still


def _arrivals(
    env: simpy.Environment,
    traffic: Traffic,
    inboxes: list[simpy.Store],
    outstanding: list[int],
    rng: random.Random,
    until: float,
    delay_s: float,
) -> Generator[simpy.Event, object, None]:
    turn = 0
    while True:
        yield env.timeout(rng.expovariate(traffic.requests_per_s))
        if env.now >= until:
            return
        turn += 1
        count = len(inboxes)
        index = min(range(count), key=lambda i: (outstanding[i], (i - turn) % count))
        outstanding[index] += 1
        request = _Request(env.now, traffic.input_tokens, max(1, round(traffic.output_tokens)))
        if delay_s > 0:
            env.process(_deliver(env, inboxes[index], request, delay_s))
        else:
            inboxes[index].put(request)


def _deliver(
    env: simpy.Environment, inbox: simpy.Store, request: _Request, delay_s: float
) -> Generator[simpy.Event, object, None]:
    """The pipeline before the engine: the request reaches it `delay_s` later."""
    yield env.timeout(delay_s)
    yield inbox.put(request)


def simulate(
    model: EngineModel,
    replicas: int,
    traffic: Traffic,
    *,
    seconds: float = 120.0,
    warmup_s: float = 10.0,
    drain_s: float = 600.0,
    seed: int = 0,
) -> Observed:
    """Simulate `replicas` engines under `traffic` for `seconds` of arrivals, then let the
    requests under way finish (up to `drain_s`)."""
    if replicas < 1 or traffic.requests_per_s <= 0:
        return Observed()
    env = simpy.Environment()
    observed = Observed()
    outstanding = [0] * replicas
    inboxes = [simpy.Store(env) for _ in range(replicas)]
    for index, inbox in enumerate(inboxes):
        env.process(_replica(env, model, inbox, outstanding, index, observed, warmup_s))
    rng = random.Random(seed)
    until = warmup_s + seconds
    env.process(_arrivals(env, traffic, inboxes, outstanding, rng, until, model.delay_ms / 1000))
    env.run(until=warmup_s + seconds + drain_s)
    observed.unfinished = sum(outstanding)
    return observed
