"""Cost of the routing decision per request, next to a dict lookup as the trivial peer.

Builds the router of a deploy file (two replicas, no network, no background polling), warms its
latency model so admission control does real work, then times each decision alone with
`time.perf_counter_ns` over a mix of requests: explicit class, deadline-routed, low priority,
with spill. The peer is what a static router does: `endpoints[sla]`. Also shown: the whole
client-side preparation of a request (call planning + decision + the gRPC request message the
asyncio client writes on its stream).

    .venv/bin/python benchmarks/routing_overhead.py [--decisions 100000] [--deploy deploy/cpu.yaml]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tritonsla.bench.fixtures.serving import script_parser
from tritonsla.profiles.loading import load_deployment
from tritonsla.routing.call import make_call
from tritonsla.routing.policy import RouteRequest
from tritonsla.routing.request import build_request
from tritonsla.routing.router import Pin, Router
from tritonsla.routing.table import EndpointTable
from tritonsla.routing.timeout import DEFAULT_TIMEOUT

TARGET_US = 50.0
REPLICAS = ["127.0.0.1:18001", "127.0.0.1:18101"]


def timed(operation: Callable[[int], object], count: int) -> list[int]:
    """Nanoseconds of each of `count` calls of operation(i)."""
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        start = clock()
        operation(i)
        samples[i] = clock() - start
    return samples


def summary(samples: list[int]) -> tuple[float, float]:
    """(mean, p99) in µs."""
    ordered = sorted(samples)
    return statistics.fmean(ordered) / 1000, ordered[int(0.99 * (len(ordered) - 1))] / 1000


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--deploy", type=Path, default=Path("deploy/cpu.yaml"))
    args = parser.parse_args()

    table = EndpointTable.from_deployment(load_deployment(args.deploy), replicas=REPLICAS)
    router = Router(table)
    for endpoint in table.endpoints.values():  # typical latencies, so admission estimates
        router.latency.observe_stream(endpoint.model, 20.0, 100.0, 9)
    slas = list(table.endpoints)
    requests = [
        RouteRequest(16, sla=slas[0], priority="high", deadline_ms=2_000),
        RouteRequest(16, deadline_ms=5_000),
        RouteRequest(64, priority="low"),
        RouteRequest(16, deadline_ms=60_000, allow_spill=True),
        RouteRequest(32),
    ]
    pin = Pin()
    endpoints = dict(table.endpoints)
    mix = len(requests)

    def decision(i: int) -> object:
        return router.decide(requests[i % mix], pin)

    def lookup(i: int) -> object:
        return endpoints[slas[i % len(slas)]]

    def preparation(i: int) -> object:
        call = make_call("Hello there", DEFAULT_TIMEOUT, deadline_s=5.0, max_tokens=16)
        decision = router.decide(call.route, call.pin)
        return build_request(
            call.request,
            decision.endpoint.model,
            priority=decision.triton_priority,
            timeout_us=decision.timeout_us,
        )

    timed(decision, 10_000)  # warm up
    rows = [
        ("dict lookup (peer)", timed(lookup, args.decisions)),
        ("routing decision (Router.decide)", timed(decision, args.decisions)),
        ("plan + decide + request message", timed(preparation, args.decisions // 10)),
    ]
    peer_mean = summary(rows[0][1])[0]
    report = Table(title=f"Routing cost per request ({args.decisions} decisions, {args.deploy})")
    for column in ("operation", "mean µs", "p99 µs", "ratio to peer (mean)"):
        report.add_column(column, justify="left" if column == "operation" else "right")
    for name, samples in rows:
        mean, p99 = summary(samples)
        report.add_row(name, f"{mean:.2f}", f"{p99:.2f}", f"{mean / peer_mean:.1f}")
    console = Console()
    console.print(report)
    mean, p99 = summary(rows[1][1])
    verdict = "meets" if p99 < TARGET_US else "misses"
    console.print(f"decision p99 {p99:.2f} µs {verdict} the {TARGET_US:.0f} µs target")


if __name__ == "__main__":
    main()
