"""Agreement: `tritonsla bench --openai-url` against aiperf on the same load through the gateway.

    .venv/bin/python benchmarks/openai_vs_aiperf.py [--requests 60] [--rounds 3] [--concurrency 4]
                                                    [--sla interactive] [--request-rate R]

Serves deploy/cpu.yaml on a real tritonserver with `tritonsla gateway` in its own process in
front, then alternates, round by round, the two load generators (each its own process) on the
same load: /v1/chat/completions streaming, one class (`--sla`, by the x-sla-class header),
32 synthetic input tokens, 32 output tokens made exact with vLLM's min_tokens, a closed loop at
the concurrency (or, with `--request-rate`, constant open-loop arrivals at that rate, so that
both clients offer the server the same arrival times), a few warm-up requests. Prints the
medians over rounds of TTFT, inter-token and request latency, output token and request
throughput, and ours/aiperf ratios (the aim is TTFT and throughput within 10%: ratios in
0.90..1.10). Beside each client's own numbers, the gateway's TTFT histogram over each run (mean
from its sum and count, p50 from its buckets, warm-up included) says what the server side saw,
so a difference between the clients can be placed: in the server's answer to each client's
arrival pattern, or in a client. Prints numbers only.

aiperf runs from its own venv (it is OpenAI-only and pins its own stack):
    python3 -m venv .cache/aiperf-venv && .cache/aiperf-venv/bin/pip install aiperf==0.13.0
or name its binary in AIPERF. Both read the same export shape: ours writes genai-perf's
`profile_export_genai_perf.json`, aiperf `profile_export_aiperf.json` (metric objects with
`avg`, `p50`, ...; times in ms).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tritonsla.bench.fixtures.serving import (
    DEFAULT_MODEL,
    DEPLOY,
    ROOT,
    gateway_process,
    script_parser,
    served_repository,
)
from tritonsla.monitor.scrape import Scrape, merge, parse_samples
from tritonsla.monitor.sources import fetch_text
from tritonsla.monitor.window import histogram_delta, quantile
from tritonsla.server import free_ports

TOKENIZER = DEFAULT_MODEL
"""aiperf counts tokens with the served model's own tokenizer."""
AIPERF = Path(os.environ.get("AIPERF", ROOT / ".cache" / "aiperf-venv" / "bin" / "aiperf"))
INPUT_TOKENS = OUTPUT_TOKENS = 32
WARMUP = 4
METRICS = (
    ("time_to_first_token", "avg", "TTFT avg ms"),
    ("time_to_first_token", "p50", "TTFT p50 ms"),
    ("inter_token_latency", "avg", "ITL avg ms"),
    ("request_latency", "avg", "latency avg ms"),
    ("output_token_throughput", "avg", "output tokens/s"),
    ("request_throughput", "avg", "requests/s"),
)
GATEWAY_LABELS = ("gateway TTFT avg ms", "gateway TTFT p50 ms")
JUDGED = ("TTFT avg ms", "TTFT p50 ms", "output tokens/s", "requests/s")
LOW, HIGH = 0.9, 1.1


@contextmanager
def served_gateway(log_dir: Path) -> Iterator[str]:
    """tritonserver (deploy/cpu.yaml) and the gateway in front; yields the gateway's URL."""
    with served_repository(echo_models=False) as endpoints:
        (port,) = free_ports(1)
        with gateway_process(endpoints.grpc_address, port, log_file=log_dir / "gateway.log"):
            yield f"http://127.0.0.1:{port}"


def load_flags(concurrency: int, rate: float | None, aiperf: bool) -> list[str]:
    """The closed loop at `concurrency`, or constant arrivals at `rate` requests/s."""
    if rate is None:
        return ["--concurrency", str(concurrency)]
    return ["--request-rate", str(rate), "--arrival-pattern" if aiperf else "--arrival", "constant"]


def run_ours(url: str, sla: str, requests: int, load: list[str], out: Path) -> dict:
    command = [
        sys.executable, "-m", "tritonsla.cli.main", "bench", "--deploy", str(DEPLOY),
        "--openai-url", f"{url}/v1", "--endpoint-type", "chat", "--streaming",
        "--mix", f"{sla}=1", *load, "--request-count", str(requests),
        "--warmup-request-count", str(WARMUP), "--synthetic-input-tokens-mean",
        str(INPUT_TOKENS), "--output-tokens-mean", str(OUTPUT_TOKENS), "--no-server-stats",
        "--artifact-dir", str(out), "--json",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "profile_export_genai_perf.json").read_text())


def run_aiperf(url: str, sla: str, requests: int, load: list[str], out: Path) -> dict:
    command = [
        str(AIPERF), "profile", "-m", "tiny-gpt2", "--url", url, "--endpoint-type", "chat",
        "--streaming", "--tokenizer", str(TOKENIZER),
        "--synthetic-input-tokens-mean", str(INPUT_TOKENS), "--synthetic-input-tokens-stddev",
        "0", "--output-tokens-mean", str(OUTPUT_TOKENS), "--output-tokens-stddev", "0",
        "--extra-inputs", f"min_tokens:{OUTPUT_TOKENS}", "-H", f"x-sla-class:{sla}",
        "--use-server-token-count", *load, "--request-count",
        str(requests), "--warmup-request-count", str(WARMUP), "--random-seed", "0",
        "--ui", "none", "--no-server-metrics", "--no-gpu-telemetry", "--workers-max", "1",
        "--output-artifact-dir", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"aiperf failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")  # fmt: skip
    found = sorted(out.rglob("profile_export_aiperf.json"))
    if not found:
        raise SystemExit(f"aiperf wrote no profile_export_aiperf.json under {out}")
    return json.loads(found[-1].read_text())


def gateway_scrape(url: str) -> Scrape:
    return merge(time.monotonic(), [parse_samples(fetch_text(f"{url}/metrics", 10.0))])


def gateway_ttft(old: Scrape, new: Scrape, sla: str) -> dict[str, float | None]:
    """Mean and p50 (ms) of the gateway's TTFT histogram of class `sla` between two scrapes."""
    buckets = histogram_delta(old, new, "tritonsla_gateway_ttft_seconds", sla=sla)
    if buckets is None or not buckets.count:
        return dict.fromkeys(GATEWAY_LABELS)
    p50 = quantile(buckets, 0.5)
    mean = buckets.sum / buckets.count * 1000
    return dict(zip(GATEWAY_LABELS, (mean, None if p50 is None else p50 * 1000), strict=True))


def values(document: dict) -> dict[str, float | None]:
    """The compared numbers of an export (ours or aiperf's: both use genai-perf's names)."""
    found: dict[str, float | None] = {}
    for metric, stat, label in METRICS:
        entry = document.get(metric) or {}
        value = entry.get(stat)
        found[label] = None if value is None else float(value)
    return found


def median(rows: list[dict[str, float | None]], label: str) -> float | None:
    numbers = [row[label] for row in rows if row[label] is not None]
    return statistics.median(numbers) if numbers else None


def main() -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sla", default="interactive", help="the class every request asks for")
    parser.add_argument(
        "--request-rate", type=float, help="constant arrivals at this rate instead of a closed loop"
    )
    args = parser.parse_args()
    if not AIPERF.exists():
        print(f"no aiperf at {AIPERF}; install it as this file's docstring says, or set AIPERF")
        return 2
    ours: list[dict] = []
    theirs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, served_gateway(Path(tmp)) as url:
        for number in range(args.rounds):
            base = Path(tmp) / f"round{number}"
            for runner, rows, name in ((run_ours, ours, "ours"), (run_aiperf, theirs, "ai")):
                load = load_flags(args.concurrency, args.request_rate, runner is run_aiperf)
                before = gateway_scrape(url)
                row = values(runner(url, args.sla, args.requests, load, base / name))
                row.update(gateway_ttft(before, gateway_scrape(url), args.sla))
                rows.append(row)
            print(f"round {number + 1}: ours {ours[-1]}\n         aiperf {theirs[-1]}")
    shape = f"concurrency {args.concurrency}"
    if args.request_rate is not None:
        shape = f"constant {args.request_rate:g} requests/s"
    print(f"\n{shape}, {args.requests} requests x {args.rounds} rounds, "
          f"chat streaming, {INPUT_TOKENS} in / {OUTPUT_TOKENS} out, class {args.sla}")  # fmt: skip
    print(f"{'metric':<18}{'ours':>12}{'aiperf':>12}{'ratio':>9}")
    agree = True
    for label in [*(label for _, _, label in METRICS), *GATEWAY_LABELS]:
        a, b = median(ours, label), median(theirs, label)
        ratio = a / b if a is not None and b else None
        mark = ""
        if label in JUDGED:
            ok = ratio is not None and LOW <= ratio <= HIGH
            agree &= ok
            mark = "  ok" if ok else "  OUTSIDE 10%"
        text = [f"{v:12.2f}" if v is not None else f"{'-':>12}" for v in (a, b)]
        shown = f"{ratio:9.3f}" if ratio is not None else f"{'-':>9}"
        print(f"{label:<18}{text[0]}{text[1]}{shown}{mark}")
    print("agreement within 10%:", "yes" if agree else "no")
    return 0


if __name__ == "__main__":
    sys.exit(main())
