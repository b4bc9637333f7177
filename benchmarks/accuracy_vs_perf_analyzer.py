"""Accuracy: our load generator against perf_analyzer on the same model at the same concurrency,
one after the other on one server; prints the ratios of request rate and of p50/p99 latency
(the aim is within 10%: ratios in 0.90..1.10).

    .venv/bin/python benchmarks/accuracy_vs_perf_analyzer.py [--seconds 8] [--rounds 3]

Cases:
- `sleep`: a Python-backend model taking 20 ms per request on one instance (non-decoupled):
  end-to-end latency, at concurrency 1 and 4.
- `realtime_tensorrt_llm_bls`: the CPU deployment's realtime endpoint, decoupled, streaming 16
  tokens: time to first token and end-to-end latency, at concurrency 1 and 2.
perf_analyzer's latencies come from its per-request timestamps (first and last response); ours
is the `tritonsla bench` path (routing SDK; fixed endpoint, or the routed realtime class). Same
prompt and max_tokens for both. The two alternate for a few rounds and medians are compared,
so that load from elsewhere on the machine hits both alike. Prints numbers only.
"""

from __future__ import annotations

import statistics

from tritonsla.bench.fixtures.peers import (
    Measured,
    OurRun,
    PerfAnalyzerUnavailable,
    client_cpu_s,
    ours,
    perf_analyzer,
    perf_analyzer_env,
    ratio,
)
from tritonsla.bench.fixtures.serving import script_parser, served_repository

CASES: tuple[tuple[str, str | None, int], ...] = (
    # (Triton model, fixed endpoint or None = the routed realtime class, concurrency)
    ("sleep", "sleep", 1),
    ("sleep", "sleep", 4),
    ("realtime_tensorrt_llm_bls", None, 1),
    ("realtime_tensorrt_llm_bls", None, 2),
)
LOW, HIGH = 0.9, 1.1
METRICS = ("requests/s", "TTFT p50 ms", "TTFT p99 ms", "e2e p50 ms", "e2e p99 ms", "CPU ms/req")


def ours_row(run: OurRun, cpu_ms: float) -> dict[str, float | None]:
    overall = run.summary.overall
    ttft, e2e = overall.ttft_ms, overall.e2e_ms
    return {
        "requests/s": overall.requests_per_s,
        "TTFT p50 ms": ttft and ttft.p50,
        "TTFT p99 ms": ttft and ttft.p99,
        "e2e p50 ms": e2e and e2e.p50,
        "e2e p99 ms": e2e and e2e.p99,
        "CPU ms/req": cpu_ms,
    }


def peer_row(peer: Measured) -> dict[str, float | None]:
    return {
        "requests/s": peer.requests_per_s,
        "TTFT p50 ms": peer.ttft_p50,
        "TTFT p99 ms": peer.ttft_p99,
        "e2e p50 ms": peer.e2e_p50,
        "e2e p99 ms": peer.e2e_p99,
        "CPU ms/req": peer.cpu_ms_per_request,
    }


def median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="our measured seconds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    try:
        env = perf_analyzer_env()
    except PerfAnalyzerUnavailable as error:
        raise SystemExit(f"perf_analyzer cannot run here: {error}") from None
    ratios: list[float] = []
    with served_repository() as endpoints:
        for model, fixed, concurrency in CASES:
            streaming = fixed is None
            mine: list[dict[str, float | None]] = []
            theirs: list[dict[str, float | None]] = []
            for _ in range(args.rounds):
                theirs.append(
                    peer_row(
                        perf_analyzer(
                            env, endpoints, model, concurrency, streaming=streaming,
                            window_ms=4000,
                        )
                    )
                )  # fmt: skip
                before = client_cpu_s()
                run = ours(endpoints, concurrency, model=fixed, duration_s=args.seconds)
                mine.append(ours_row(run, (client_cpu_s() - before) * 1000 / run.requests))
                counts = run.summary.overall.counts
                if counts.ok != counts.total:
                    print(f"  ours: {counts} {run.summary.overall.errors}")
            kind = "decoupled, streaming" if streaming else "one response"
            print(f"{model} at concurrency {concurrency} ({kind}), median of {args.rounds} rounds")
            print(f"  {'metric':<12} {'ours':>9} {'perf_analyzer':>14} {'ratio':>6}")
            for name in METRICS:
                if not streaming and name.startswith("TTFT"):
                    continue  # one response: TTFT is e2e
                a = median([row[name] for row in mine])
                b = median([row[name] for row in theirs])
                print(f"  {name:<12} {a or 0.0:>9.2f} {b or 0.0:>14.2f} {ratio(a, b):>6}")
                if a and b and name != "CPU ms/req":
                    ratios.append(a / b)
    inside = sum(LOW <= r <= HIGH for r in ratios)
    print(f"ratios within {LOW:.2f}..{HIGH:.2f}: {inside} of {len(ratios)}")
    print("CPU ms/req: client CPU per request (user + system); client and server share 2 cores")


if __name__ == "__main__":
    main()
