"""A stand-in for the gateway's metrics in unit tests: the same families, made with
prometheus_client (the library the gateway uses), and Triton/engine samples in Triton's format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tritonsla.monitor.scrape import Scrape, merge, parse_samples

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FakeGateway:
    """Families and labels of `tritonsla_gateway_*` as tritonsla.gateway.metrics exports them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ttft = Histogram(
            "tritonsla_gateway_ttft_seconds", "TTFT", ["sla"], buckets=BUCKETS, registry=r
        )
        self.itl = Histogram(
            "tritonsla_gateway_itl_seconds", "ITL", ["sla"], buckets=BUCKETS, registry=r
        )
        self.e2e = Histogram(
            "tritonsla_gateway_e2e_seconds", "E2E", ["sla"], buckets=BUCKETS, registry=r
        )
        self.requests = Counter(
            "tritonsla_gateway_requests", "requests", ["sla", "outcome", "slo"], registry=r
        )
        self.prompt = Counter("tritonsla_gateway_prompt_tokens", "in", ["sla"], registry=r)
        self.completion = Counter("tritonsla_gateway_completion_tokens", "out", ["sla"], registry=r)
        self.in_flight = Gauge("tritonsla_gateway_in_flight", "in flight", ["sla"], registry=r)

    def request(
        self,
        sla: str,
        ttft: float | None = 0.1,
        itl: float | None = 0.02,
        e2e: float = 0.5,
        tokens: int = 10,
        outcome: str = "ok",
        slo: str = "met",
    ) -> None:
        """One finished request of class `sla`."""
        if outcome == "ok":
            if ttft is not None:
                self.ttft.labels(sla).observe(ttft)
            if itl is not None:
                self.itl.labels(sla).observe(itl)
            self.e2e.labels(sla).observe(e2e)
            self.completion.labels(sla).inc(tokens)
            self.prompt.labels(sla).inc(20)
        self.requests.labels(sla, outcome, slo).inc()

    def text(self) -> str:
        return generate_latest(self.registry).decode()


def triton_text(pending: dict[str, int], engine: dict[str, tuple[int, int]]) -> str:
    """Triton's pending-request gauges per model and the engine's waiting/active gauges."""
    lines = [
        "# HELP nv_inference_pending_request_count Instantaneous number of pending requests",
        "# TYPE nv_inference_pending_request_count gauge",
        *(
            f'nv_inference_pending_request_count{{model="{m}",version="1"}} {n}'
            for m, n in pending.items()
        ),
        "# HELP nv_trt_llm_request_metrics TRT LLM request metrics",
        "# TYPE nv_trt_llm_request_metrics gauge",
    ]
    for model, (waiting, active) in engine.items():
        for kind, value in (("waiting", waiting), ("active", active), ("max", 16)):
            lines.append(
                f'nv_trt_llm_request_metrics{{model="{model}",request_type="{kind}",'
                f'version="1"}} {value}'
            )
    return "\n".join(lines) + "\n"


def scrape_at(at: float, *texts: str) -> Scrape:
    """A Scrape of `texts` (several endpoints) at time `at`."""
    return merge(at, [parse_samples(text) for text in texts])
