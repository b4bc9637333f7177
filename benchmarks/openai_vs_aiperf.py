"""Agreement: `tritonsla bench --openai-url` against aiperf on the same load through the gateway.

    .venv/bin/python benchmarks/openai_vs_aiperf.py [--requests 60] [--rounds 3] [--concurrency 4]
                                                    [--sla interactive] [--request-rate R]
                                                    [--nice 19] [--spin] [--keep DIR]

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
arrival pattern, or in a client.

Both clients run at the lowest CPU priority (`--nice`, default 19): on a small machine any CPU a
client burns is taken from the server under test. That matters for aiperf at a concurrency: its
timing manager polls for a free slot without sleeping (aiperf/timing/strategies/request_rate.py,
`RequestRateStrategy.execute_phase` with the zero-interval `ConcurrencyBurstIntervalGenerator`,
retrying through `yield_to_event_loop`), which keeps most of a core busy for the whole run.
`--spin` adds a third run per round: our client beside a process spinning the same way
(`await asyncio.sleep(0)` in a loop), which shows what that CPU does to the server's answers.
Each run's arrival pattern is printed from the per-request records (ours requests.csv, aiperf's
profile_export.jsonl): in a closed loop, the time a client takes to refill a slot an answer
freed (see `pattern`); the mean number of requests in flight; the share of sends within 2 ms of
another; and the send lag (ours: scheduled time to send, which our TTFT includes; aiperf's:
credit issued to send, which its TTFT does not). Prints numbers only.

aiperf runs from its own venv (it is OpenAI-only and pins its own stack):
    python3 -m venv .cache/aiperf-venv && .cache/aiperf-venv/bin/pip install aiperf==0.13.0
or name its binary in AIPERF. Both read the same export shape: ours writes genai-perf's
`profile_export_genai_perf.json`, aiperf `profile_export_aiperf.json` (metric objects with
`avg`, `p50`, ...; times in ms).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
PATTERN_LABELS = (
    "refill p50 ms",
    "refill avg ms",
    "in flight avg",
    "sends <2ms apart %",
    "send lag avg ms",
)
JUDGED = ("TTFT avg ms", "TTFT p50 ms", "output tokens/s", "requests/s")
LOW, HIGH = 0.9, 1.1
TOGETHER_S = 0.002
"""Two sends this close count as sent together (in step)."""
SPIN = (
    "import asyncio\n"
    "async def spin():\n"
    "    while True:\n"
    "        await asyncio.sleep(0)\n"
    "asyncio.run(spin())"
)
"""A process polling as aiperf's timing manager does at a concurrency (see the docstring)."""


@dataclass(frozen=True)
class Sent:
    """One request as its client recorded it: the time its TTFT counts from, its end (s, one
    clock), warm-up or not, and the client's lag before that time or after it (s)."""

    start: float
    end: float
    warmup: bool
    lag: float


@contextmanager
def served_gateway(log_dir: Path) -> Iterator[str]:
    """tritonserver (deploy/cpu.yaml) and the gateway in front; yields the gateway's URL."""
    with served_repository(echo_models=False) as endpoints:
        (port,) = free_ports(1)
        with gateway_process(endpoints.grpc_address, port, log_file=log_dir / "gateway.log"):
            yield f"http://127.0.0.1:{port}"


@contextmanager
def spinning(on: bool, nice: int) -> Iterator[None]:
    """With `on`, a process spinning as aiperf's timing manager does (at niceness `nice`, as the
    clients), for the block."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([*niced(nice), sys.executable, "-c", SPIN])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def load_flags(concurrency: int, rate: float | None, aiperf: bool) -> list[str]:
    """The closed loop at `concurrency`, or constant arrivals at `rate` requests/s."""
    if rate is None:
        return ["--concurrency", str(concurrency)]
    return ["--request-rate", str(rate), "--arrival-pattern" if aiperf else "--arrival", "constant"]


def niced(nice: int) -> list[str]:
    """A command prefix running it at niceness `nice` (none for 0)."""
    return ["nice", "-n", str(nice)] if nice else []


def run_ours(url: str, sla: str, requests: int, load: list[str], out: Path, nice: int) -> dict:
    command = [
        *niced(nice), sys.executable, "-m", "tritonsla.cli.main", "bench", "--deploy",
        str(DEPLOY), "--openai-url", f"{url}/v1", "--endpoint-type", "chat", "--streaming",
        "--mix", f"{sla}=1", *load, "--request-count", str(requests),
        "--warmup-request-count", str(WARMUP), "--synthetic-input-tokens-mean",
        str(INPUT_TOKENS), "--output-tokens-mean", str(OUTPUT_TOKENS), "--no-server-stats",
        "--artifact-dir", str(out), "--json",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "profile_export_genai_perf.json").read_text())


def run_aiperf(url: str, sla: str, requests: int, load: list[str], out: Path, nice: int) -> dict:
    command = [
        *niced(nice), str(AIPERF), "profile", "-m", "tiny-gpt2", "--url", url,
        "--endpoint-type", "chat", "--streaming", "--tokenizer", str(TOKENIZER),
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
    return json.loads(only(out, "profile_export_aiperf.json").read_text())


def only(out: Path, name: str) -> Path:
    """The shallowest file called `name` under `out` (aiperf nests per-phase copies deeper)."""
    found = sorted(out.rglob(name), key=lambda path: len(path.parts))
    if not found:
        raise SystemExit(f"no {name} under {out}")
    return found[0]


def sends_ours(out: Path) -> list[Sent]:
    """Our per-request records: scheduled send (what our TTFT counts from), end, warm-up, and
    the lag from the scheduled time to the send."""
    with (out / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Sent(
            float(row["scheduled_s"]),
            float(row["end_s"]),
            row["warmup"] == "true",
            float(row["send_lag_ms"]) / 1000,
        )
        for row in rows
        if row["end_s"]
    ]


def sends_aiperf(out: Path) -> list[Sent]:
    """aiperf's per-request records: request_start_ns (what its TTFT counts from), end, phase,
    and the lag from the credit's issue to that start."""
    sent = []
    for line in only(out, "profile_export.jsonl").read_text().splitlines():
        meta = json.loads(line)["metadata"]
        sent.append(
            Sent(
                meta["request_start_ns"] / 1e9,
                meta["request_end_ns"] / 1e9,
                meta["benchmark_phase"] != "profiling",
                (meta["request_start_ns"] - meta["credit_issued_ns"]) / 1e9,
            )
        )
    return sent


def pattern(sent: list[Sent], concurrency: int | None) -> dict[str, float | None]:
    """The arrival pattern of the measured requests of a run.

    Refill (closed loop at `concurrency` c): with every request's sends and ends each sorted,
    send k can go out only after end k - c (the slot it takes is free from then on), so
    send k - end k - c is the client's time to refill a free slot. In flight: the requests'
    summed durations over the span from the first measured send to the last end. Sends <2ms
    apart: the share of sends within TOGETHER_S of another send. Send lag: see `Sent`.
    """
    measured = sorted((s for s in sent if not s.warmup), key=lambda s: s.start)
    if len(measured) < 2:
        return dict.fromkeys(PATTERN_LABELS)
    starts = sorted(s.start for s in sent)
    ends = sorted(s.end for s in sent)
    first = measured[0].start
    refill = [
        (starts[k] - ends[k - concurrency]) * 1000
        for k in range(concurrency or len(starts), len(starts))
        if starts[k] >= first
    ]
    span = max(s.end for s in measured) - first
    times = [s.start for s in measured]
    together = sum(
        1
        for i, t in enumerate(times)
        if (i > 0 and t - times[i - 1] < TOGETHER_S)
        or (i + 1 < len(times) and times[i + 1] - t < TOGETHER_S)
    )
    numbers = (
        statistics.median(refill) if refill else None,
        statistics.mean(refill) if refill else None,
        sum(s.end - s.start for s in measured) / span,
        100.0 * together / len(measured),
        statistics.mean(s.lag for s in measured) * 1000,
    )
    return dict(zip(PATTERN_LABELS, numbers, strict=True))


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
    numbers = [row[label] for row in rows if row.get(label) is not None]
    return statistics.median(numbers) if numbers else None


def cell(value: float | None, width: int) -> str:
    return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"


def main() -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sla", default="interactive", help="the class every request asks for")
    parser.add_argument(
        "--request-rate", type=float, help="constant arrivals at this rate instead of a closed loop"
    )
    parser.add_argument(
        "--nice", type=int, default=19, help="both clients' niceness (0: as this script's)"
    )
    parser.add_argument(
        "--spin", action="store_true",
        help="a third run per round: ours beside a process polling as aiperf's timing manager",
    )  # fmt: skip
    parser.add_argument(
        "--keep", type=Path, help="copy both clients' artifacts (per-request records) here"
    )
    args = parser.parse_args()
    if not AIPERF.exists():
        print(f"no aiperf at {AIPERF}; install it as this file's docstring says, or set AIPERF")
        return 2
    runs = [("ours", run_ours, sends_ours, False), ("aiperf", run_aiperf, sends_aiperf, False)]
    if args.spin:
        runs.append(("ours+spin", run_ours, sends_ours, True))
    columns: dict[str, list[dict]] = {name: [] for name, *_ in runs}
    with tempfile.TemporaryDirectory() as tmp, served_gateway(Path(tmp)) as url:
        for number in range(args.rounds):
            base = Path(tmp) / f"round{number}"
            for name, client, sends, spin in runs:
                load = load_flags(args.concurrency, args.request_rate, client is run_aiperf)
                out = base / name
                before = gateway_scrape(url)
                with spinning(spin, args.nice):
                    row = values(client(url, args.sla, args.requests, load, out, args.nice))
                row.update(gateway_ttft(before, gateway_scrape(url), args.sla))
                closed = args.concurrency if args.request_rate is None else None
                row.update(pattern(sends(out), closed))
                columns[name].append(row)
                shown = {k: round(v, 2) for k, v in row.items() if v is not None}
                print(f"round {number + 1} {name}: {shown}", flush=True)
            if args.keep is not None:
                shutil.copytree(base, args.keep / base.name, dirs_exist_ok=True)
    shape = f"concurrency {args.concurrency}"
    if args.request_rate is not None:
        shape = f"constant {args.request_rate:g} requests/s"
    print(f"\n{shape}, {args.requests} requests x {args.rounds} rounds, chat streaming, "
          f"{INPUT_TOKENS} in / {OUTPUT_TOKENS} out, class {args.sla}, clients at nice "
          f"{args.nice}; medians over rounds")  # fmt: skip
    head = f"{'metric':<20}{'ours':>10}{'aiperf':>10}{'ratio':>8}"
    if args.spin:
        head += f"{'ours+spin':>11}{'/aiperf':>9}"
    print(head)
    agree = True
    for label in [*(label for _, _, label in METRICS), *GATEWAY_LABELS, *PATTERN_LABELS]:
        a, b = median(columns["ours"], label), median(columns["aiperf"], label)
        ratio = a / b if a is not None and b else None
        line = f"{label:<20}{cell(a, 10)}{cell(b, 10)}{cell(ratio, 8)}"
        if args.spin:
            c = median(columns["ours+spin"], label)
            line += f"{cell(c, 11)}{cell(c / b if c is not None and b else None, 9)}"
        if label in JUDGED:
            ok = ratio is not None and LOW <= ratio <= HIGH
            agree &= ok
            line += "  ok" if ok else "  OUTSIDE 10%"
        print(line)
    print("agreement within 10% (ours vs aiperf):", "yes" if agree else "no")
    return 0


if __name__ == "__main__":
    sys.exit(main())
