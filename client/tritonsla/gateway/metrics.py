"""The gateway's Prometheus metrics (GET /metrics), per SLA class (label `sla`).

    tritonsla_gateway_ttft_seconds        histogram: request received -> first text sent
    tritonsla_gateway_itl_seconds         histogram: per request, mean gap between tokens
                                          ((end - first text) / (tokens - 1)), as genai-perf's
                                          inter_token_latency and the bench's SLO verdicts
    tritonsla_gateway_e2e_seconds         histogram: request received -> answer complete
    tritonsla_gateway_requests_total      counter {outcome: ok|rejected|timeout|error|cancelled,
                                          slo: met|missed|none}
    tritonsla_gateway_prompt_tokens_total, tritonsla_gateway_completion_tokens_total  counters
    tritonsla_gateway_in_flight           gauge

Only requests routed to a class are counted: a 400 names no class. `slo` is `met` when an
answered request meets every per-request threshold of its class (ttft_ms, itl_ms, e2e_ms;
`tritonsla.bench.metrics.is_good`'s rule), `missed` when it does not or failed, `none` when the
class has no such threshold or the client went away.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tritonsla.bench.metrics import THRESHOLDS, meets_thresholds, threshold_value
from tritonsla.gateway.errors import Outcome
from tritonsla.profiles.schema import Slo

TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class Timing:
    """Seconds measured at the gateway for one request (None: not measured)."""

    ttft_s: float | None = None
    itl_s: float | None = None
    e2e_s: float | None = None


def slo_verdict(slo: Slo, outcome: Outcome, timing: Timing) -> str:
    """`met`, `missed` or `none` (see the module docstring); the rule is bench's."""
    if not any(threshold_value(slo, key) is not None for key in THRESHOLDS):
        return "none"
    if outcome == "cancelled":
        return "none"
    if outcome != "ok":
        return "missed"
    seconds = {"ttft_ms": timing.ttft_s, "itl_ms": timing.itl_s, "e2e_ms": timing.e2e_s}
    values_ms = {key: None if value is None else value * 1000 for key, value in seconds.items()}
    return "met" if meets_thresholds(slo, values_ms) else "missed"


class GatewayMetrics:
    """The metric families in their own registry (one per app, so tests can run several)."""

    def __init__(self, classes: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ttft = Histogram(
            "tritonsla_gateway_ttft_seconds",
            "Time to first token at the gateway",
            ["sla"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "tritonsla_gateway_itl_seconds",
            "Mean inter-token latency of a request",
            ["sla"],
            buckets=ITL_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            "tritonsla_gateway_e2e_seconds",
            "End-to-end latency at the gateway",
            ["sla"],
            buckets=E2E_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "tritonsla_gateway_requests_total",
            "Requests routed to a class, by outcome and SLO",
            ["sla", "outcome", "slo"],
            registry=r,
        )
        self.prompt_tokens = Counter(
            "tritonsla_gateway_prompt_tokens_total",
            "Prompt tokens of answered requests",
            ["sla"],
            registry=r,
        )
        self.completion_tokens = Counter(
            "tritonsla_gateway_completion_tokens_total",
            "Tokens the engine generated",
            ["sla"],
            registry=r,
        )
        self.in_flight = Gauge(
            "tritonsla_gateway_in_flight", "Requests being served", ["sla"], registry=r
        )
        for sla in classes:  # every class shows from the start, at zero
            for family in (
                self.ttft,
                self.itl,
                self.e2e,
                self.prompt_tokens,
                self.completion_tokens,
                self.in_flight,
            ):
                family.labels(sla)

    def started(self, sla: str) -> None:
        self.in_flight.labels(sla).inc()

    def ended(
        self,
        sla: str,
        slo: Slo,
        outcome: Outcome,
        timing: Timing,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Record a request that `started`: its outcome, verdict, latencies and tokens."""
        self.in_flight.labels(sla).dec()
        self.requests.labels(sla, outcome, slo_verdict(slo, outcome, timing)).inc()
        if outcome != "ok":
            return
        for family, value in (
            (self.ttft, timing.ttft_s),
            (self.itl, timing.itl_s),
            (self.e2e, timing.e2e_s),
        ):
            if value is not None:
                family.labels(sla).observe(value)
        if prompt_tokens:
            self.prompt_tokens.labels(sla).inc(prompt_tokens)
        if completion_tokens:
            self.completion_tokens.labels(sla).inc(completion_tokens)
