"""Capacity: the highest request rate our load generator drives into a trivial model, over
perf_analyzer's on the same server at the same concurrencies (the aim is a ratio of at least 0.8).

    .venv/bin/python benchmarks/capacity.py [--concurrency 8 16] [--seconds 6]

The model (`echo`, Python backend, dynamic batching) answers at once, so the generators, which
share the machine's cores with the server, are what limits the rate. Two of ours are measured:
- core: scheduler + records + metrics with a lean unary gRPC sender, against perf_analyzer's
  async unary gRPC (the same transport);
- SDK: the full `tritonsla bench` path through the routing SDK (one gRPC stream per request),
  against perf_analyzer --streaming.
Prints numbers only; nothing is asserted. Seen here: tritonserver 2.51 crashed (SIGSEGV in
TRITONSERVER_InferenceRequestDelete) under perf_analyzer at concurrency 32 on this 2-core
machine, hence the default concurrencies.
"""

from __future__ import annotations

from tritonsla.bench.fixtures.peers import (
    PerfAnalyzerUnavailable,
    ours,
    ours_unary,
    perf_analyzer,
    perf_analyzer_env,
    ratio,
)
from tritonsla.bench.fixtures.serving import script_parser, served_repository

MODEL = "echo"


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--seconds", type=float, default=6.0, help="our measured seconds")
    args = parser.parse_args()
    try:
        env: dict[str, str] | None = perf_analyzer_env()
        reason = ""
    except PerfAnalyzerUnavailable as error:
        env, reason = None, str(error)
    rows = []
    with served_repository(cpu_deployment=False) as endpoints:
        for concurrency in args.concurrency:
            core = ours_unary(endpoints, MODEL, concurrency, args.seconds).overall.requests_per_s
            sdk = ours(endpoints, concurrency, model=MODEL, duration_s=args.seconds)
            sdk_rate = sdk.summary.overall.requests_per_s
            pa_unary = pa_stream = None
            if env is not None:
                pa_unary = perf_analyzer(
                    env, endpoints, MODEL, concurrency, streaming=False, window_ms=3000,
                    stability_pct=25,
                ).requests_per_s  # fmt: skip
                pa_stream = perf_analyzer(
                    env, endpoints, MODEL, concurrency, streaming=True, window_ms=3000,
                    stability_pct=25,
                ).requests_per_s  # fmt: skip
            rows.append((concurrency, core, pa_unary, sdk_rate, pa_stream))
            print(
                f"concurrency {concurrency:>3}: ours core {core:8.0f} req/s | perf_analyzer "
                f"unary {pa_unary or float('nan'):8.0f} | ours via SDK {sdk_rate:8.0f} | "
                f"perf_analyzer --streaming {pa_stream or float('nan'):8.0f}",
                flush=True,
            )
    best = [max((row[i] or 0.0) for row in rows) for i in range(1, 5)]
    print(f"max request rate, ours core:          {best[0]:.0f} req/s")
    print(f"max request rate, ours via SDK:       {best[2]:.0f} req/s")
    if env is None:
        print(f"perf_analyzer could not run: {reason}")
        return
    print(f"max request rate, perf_analyzer:      {best[1]:.0f} req/s (unary)")
    print(f"max request rate, perf_analyzer:      {best[3]:.0f} req/s (--streaming)")
    print(f"capacity ratio core / perf_analyzer unary:       {ratio(best[0], best[1])}")
    print(f"capacity ratio SDK / perf_analyzer --streaming:  {ratio(best[2], best[3])}")


if __name__ == "__main__":
    main()
