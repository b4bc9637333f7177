"""Accuracy: our load generator against perf_analyzer on the same model at the same concurrency,
one after the other on one server; prints the ratios of request rate and of p50/p99 latency
(issue 6 aims for within 10%, i.e. ratios in 0.90..1.10).

    .venv/bin/python bench/accuracy_vs_perf_analyzer.py [--seconds 10]

Cases:
- `sleep`: a Python-backend model taking 20 ms per request on one instance (non-decoupled):
  end-to-end latency, at concurrency 1 and 4.
- `realtime_tensorrt_llm_bls`: the CPU deployment's realtime endpoint, decoupled, streaming 16
  tokens: time to first token and end-to-end latency, at concurrency 1 and 2.
perf_analyzer's latencies come from its per-request timestamps (first and last response); ours
is the `tritonsla bench` path (routing SDK; fixed endpoint, or the routed realtime class). Same
prompt and max_tokens for both. Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse

from harness import (
    Measured,
    PerfAnalyzerUnavailable,
    client_cpu_s,
    ours,
    perf_analyzer,
    perf_analyzer_env,
    ratio,
    served_repository,
)

CASES: tuple[tuple[str, str | None, int], ...] = (
    # (Triton model, fixed endpoint or None = the routed realtime class, concurrency)
    ("sleep", "sleep", 1),
    ("sleep", "sleep", 4),
    ("realtime_tensorrt_llm_bls", None, 1),
    ("realtime_tensorrt_llm_bls", None, 2),
)
LOW, HIGH = 0.9, 1.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="our measured seconds")
    args = parser.parse_args()
    try:
        env = perf_analyzer_env()
    except PerfAnalyzerUnavailable as error:
        raise SystemExit(f"perf_analyzer cannot run here: {error}") from None
    ratios: list[float] = []
    with served_repository() as endpoints:
        for model, fixed, concurrency in CASES:
            streaming = fixed is None
            peer: Measured = perf_analyzer(
                env, endpoints, model, concurrency, streaming=streaming, window_ms=5000
            )
            cpu_before = client_cpu_s()
            run = ours(endpoints, concurrency, model=fixed, duration_s=args.seconds)
            cpu_ms = (client_cpu_s() - cpu_before) * 1000 / len(run.records)
            overall = run.summary.overall
            rows = [("requests/s", overall.requests_per_s, peer.requests_per_s)]
            if streaming and overall.ttft_ms is not None:
                rows += [
                    ("TTFT p50 ms", overall.ttft_ms.p50, peer.ttft_p50),
                    ("TTFT p99 ms", overall.ttft_ms.p99, peer.ttft_p99),
                ]
            if overall.e2e_ms is not None:
                rows += [
                    ("e2e p50 ms", overall.e2e_ms.p50, peer.e2e_p50),
                    ("e2e p99 ms", overall.e2e_ms.p99, peer.e2e_p99),
                ]
            kind = "decoupled, streaming" if streaming else "one response"
            print(f"{model} at concurrency {concurrency} ({kind}; ours: {overall.counts.ok} ok)")
            print(f"  {'metric':<12} {'ours':>9} {'perf_analyzer':>14} {'ratio':>6}")
            for name, mine, theirs in rows:
                print(f"  {name:<12} {mine or 0.0:>9.1f} {theirs:>14.1f} {ratio(mine, theirs):>6}")
                if mine and theirs:
                    ratios.append(mine / theirs)
            print(
                f"  {'client CPU ms/request':<21} ours {cpu_ms:.2f}, perf_analyzer "
                f"{peer.cpu_ms_per_request:.2f} (the client shares the cores with the server)"
            )
            if overall.counts.ok != overall.counts.total:
                print(f"  ours: {overall.counts} {overall.errors}")
    inside = sum(LOW <= r <= HIGH for r in ratios)
    print(f"ratios within {LOW:.2f}..{HIGH:.2f}: {inside} of {len(ratios)}")


if __name__ == "__main__":
    main()
