"""`tritonsla bench`: load a running deployment and judge every SLA class against its SLO.

Flag names follow genai-perf and perf_analyzer where they have one (--concurrency,
--request-rate, --request-count, --warmup-request-count, --goodput, --random-seed), with the
short forms of the design (--requests, --seed). genai-perf's own names are aliases
(genai-perf/genai_perf/parser.py in triton-inference-server/perf_analyzer):
--synthetic-input-tokens-mean/-stddev (--isl), --output-tokens-mean/-stddev (--osl),
--num-prompts (--num-dataset-entries), --artifact-dir, --profile-export-file, --streaming, -m
(--model), --endpoint-type, and `--goodput time_to_first_token:75 inter_token_latency:20`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.console import Console

from tritonsla.bench.benchmark import BenchOptions, prepare, run_benchmark, settings_of
from tritonsla.bench.capacity import CapacitySettings, Probe
from tritonsla.bench.capacity_probe import find_capacity
from tritonsla.bench.openai import OpenAiTarget
from tritonsla.bench.progress import RunProgress
from tritonsla.bench.report import write_report
from tritonsla.bench.report.capacity_report import (
    capacity_report,
    capacity_to_json,
    print_capacity,
    probe_line,
    write_capacity_json,
)
from tritonsla.bench.report.console import print_report
from tritonsla.bench.report.genai_perf import DEFAULT_EXPORT
from tritonsla.bench.report.json_report import report_document
from tritonsla.bench.schedule import (
    Concurrent,
    Constant,
    FixedSchedule,
    Gamma,
    Limits,
    LoadStrategy,
    Poisson,
    schedule_times,
    strategy_from_name,
)
from tritonsla.bench.workload import TokenLengths
from tritonsla.cli.options import (
    add_deployment_options,
    http_url,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    replica_address,
)
from tritonsla.errors import ConfigError

DEFAULT_REQUESTS = 100
DEFAULT_DRAIN_S = 60.0
CAPACITY_FLAGS = {
    "start_rps": "--start-rate",
    "min_rps": "--min-rate",
    "max_rps": "--max-rate",
    "tolerance": "--tolerance",
    "probe_seconds": "--probe-seconds",
    "min_probe_requests": "--probe-requests",
    "warmup_requests": "--warmup-requests",
    "drain_s": "--drain-timeout",
    "confirmations": "--confirmations",
}
"""CapacitySettings fields set by flags, and their flags."""
CAPACITY_EXCLUDES = {
    "concurrency": "--concurrency",
    "request_rate": "--request-rate",
    "sweep": "--sweep",
    "load": "--load",
    "fixed_schedule": "--fixed-schedule",
    "requests": "--requests",
    "duration": "--duration",
}
"""Flags --capacity replaces: it chooses each probe's rate and size itself."""
ARRIVALS = {"constant": Constant, "poisson": Poisson, "gamma": Gamma}

EPILOG = """\
load (pick one; default --concurrency 1):
  --concurrency 8                   closed loop: 8 requests always in flight
  --request-rate 4 --arrival poisson
                                    open loop: latency counts from each scheduled send time
  --sweep concurrency=1,2,4,8       one run per value; plots latency against throughput
  --load gamma@4rps,burstiness=0.5  a load strategy by name (repeatable)
  --fixed-schedule trace.jsonl      open loop at recorded send times (`timestamp`, ms)

examples:
  tritonsla bench --deploy deploy/cpu.yaml --mix realtime=0.2,interactive=0.3,batch=0.5 \\
      --request-rate 4 --duration 60 --out reports/run1
  tritonsla bench --sweep rate=1,2,4 --arrival poisson --requests 50 --out reports/sweep
  tritonsla bench --endpoint interactive_tensorrt_llm_bls --mix realtime=0.5,batch=0.5 --json
  tritonsla bench --capacity --start-rate 8 --max-rate 64 --probe-seconds 15 --out reports/cap
                                    highest Poisson rate at which every class meets its SLO
  tritonsla bench --openai-url http://127.0.0.1:9000/v1 --endpoint-type chat --streaming \
      --concurrency 4 --synthetic-input-tokens-mean 64 --output-tokens-mean 32 \
      --goodput time_to_first_token:500 --artifact-dir reports/gateway
                                    the same load through the OpenAI gateway, genai-perf's flags
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `bench` and its flags."""
    parser = subparsers.add_parser(
        "bench",
        help="measure TTFT, inter-token latency, throughput and goodput per SLA class",
        description="Send a workload to a running deployment (routed by the SDK per SLA class,\n"
        "or to one fixed endpoint) and report per class and endpoint: TTFT, inter-token and\n"
        "end-to-end latency, output tokens/s, requests/s, goodput and the SLO verdict.\n"
        "Latencies count from each request's scheduled send time; warm-up is not counted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_argument_group("deployment")
    add_deployment_options(target)
    target.add_argument(
        "--url", dest="urls", action="append", default=[], metavar="HOST:GRPC_PORT",
        type=replica_address,
        help="server(s) to use instead of the deploy file's (repeatable)",
    )  # fmt: skip
    target.add_argument(
        "--metrics-url", type=http_url, metavar="URL",
        help="Prometheus metrics of the first --url, e.g. http://127.0.0.1:8002/metrics",
    )  # fmt: skip
    target.add_argument(
        "--endpoint", metavar="MODEL",
        help="send every request to this Triton model (routing bypassed), e.g. "
        "interactive_tensorrt_llm_bls; classes still pick each request's SLO",
    )  # fmt: skip
    target.add_argument(
        "--openai-url", type=http_url, metavar="URL",
        help="send every request to this OpenAI-compatible server instead, e.g. the gateway at "
        "http://127.0.0.1:9000/v1 (class in the x-sla-class header)",
    )  # fmt: skip
    target.add_argument(
        "-m", "--model", metavar="NAME",
        help="with --openai-url: the model to ask for (default: the deploy file's model.name)",
    )  # fmt: skip
    target.add_argument(
        "--endpoint-type", choices=("completions", "chat"), default="completions",
        help="with --openai-url: /v1/completions (default) or /v1/chat/completions",
    )  # fmt: skip
    target.add_argument(
        "--no-min-tokens", dest="min_tokens", action="store_false",
        help="with --openai-url: do not send vLLM's min_tokens (asked so that every answer is "
        "max_tokens long) to a server that refuses it",
    )  # fmt: skip

    load = parser.add_argument_group("load")
    choice = load.add_mutually_exclusive_group()
    choice.add_argument("--concurrency", type=positive_int, metavar="N", help="closed loop")
    choice.add_argument(
        "--request-rate", type=positive_float, metavar="RPS", help="open loop, requests/s"
    )
    choice.add_argument(
        "--sweep", metavar="KIND=V1,V2,...",
        help="concurrency=1,2,4 or rate=1,2,4: one run per value, in order",
    )  # fmt: skip
    choice.add_argument(
        "--load", action="append", metavar="NAME",
        help="strategy by name: concurrent@8, constant@4rps, poisson@4rps, "
        "gamma@4rps,burstiness=0.5 (repeatable)",
    )  # fmt: skip
    choice.add_argument(
        "--fixed-schedule", type=Path, metavar="FILE.jsonl",
        help="open loop at given send times: one JSON object a line with `timestamp` in ms "
        "(aiperf's and Mooncake's trace field), shifted so the first is 0; prompts still come "
        "from the workload flags; the run ends with the times",
    )  # fmt: skip
    load.add_argument(
        "--arrival", choices=sorted(ARRIVALS), default="poisson",
        help="arrival process of --request-rate and --sweep rate=... (default: poisson)",
    )  # fmt: skip
    load.add_argument(
        "--burstiness", type=positive_float, default=1.0, metavar="B",
        help="gamma shape: 1 = Poisson, < 1 burstier, > 1 more even (default: 1)",
    )  # fmt: skip

    limits = parser.add_argument_group("limits (default: --requests 100)")
    limits.add_argument(
        "--requests", "--request-count", type=positive_int, metavar="N",
        help="measured requests per run",
    )  # fmt: skip
    limits.add_argument(
        "--duration", type=positive_float, metavar="S", help="seconds of measured schedule"
    )
    limits.add_argument(
        "--warmup-requests", "--warmup-request-count", type=non_negative_int, metavar="N",
        help="requests sent first and left out of the statistics (default: 0; --capacity: 5 "
        "per probe)",
    )  # fmt: skip
    limits.add_argument(
        "--warmup-s", type=non_negative_float, default=0.0, metavar="S",
        help="seconds of schedule sent first and left out of the statistics",
    )  # fmt: skip
    limits.add_argument(
        "--drain-timeout", type=positive_float, metavar="S",
        help="after the last send, wait this long for answers; later ones count as incomplete "
        "(default: 60; --capacity: 10)",
    )  # fmt: skip
    limits.add_argument(
        "--timeout", type=positive_float, default=600.0, metavar="S",
        help="per-request timeout (default: 600)",
    )  # fmt: skip

    work = parser.add_argument_group("workload")
    work.add_argument(
        "--mix", metavar="CLASS=SHARE,...",
        help="share of traffic per SLA class, e.g. realtime=0.2,interactive=0.3,batch=0.5 "
        "(default: equal shares of the deploy file's classes)",
    )  # fmt: skip
    work.add_argument(
        "--input-tokens", "--synthetic-input-tokens-mean", "--isl", type=positive_int,
        default=64, metavar="MEAN",
        help="synthetic prompt length in tokens of the deploy's tokenizer (default: 64)",
    )  # fmt: skip
    work.add_argument(
        "--input-tokens-std", "--synthetic-input-tokens-stddev", type=non_negative_float,
        default=0.0, metavar="STD", help="its standard deviation (default: 0)",
    )  # fmt: skip
    work.add_argument(
        "--output-tokens", "--output-tokens-mean", "--osl", type=positive_int, default=32,
        metavar="MEAN", help="max_tokens of each request (default: 32)",
    )  # fmt: skip
    work.add_argument(
        "--output-tokens-std", "--output-tokens-stddev", type=non_negative_float, default=0.0,
        metavar="STD", help="its standard deviation (default: 0)",
    )  # fmt: skip
    work.add_argument(
        "--num-prompts", "--num-dataset-entries", type=positive_int, metavar="N",
        help="only N distinct synthetic payloads (prompt and length), reused in turn "
        "(default: every request its own)",
    )  # fmt: skip
    work.add_argument(
        "--prompts", type=Path, metavar="FILE.jsonl",
        help='prompts instead of synthetic ones: {"text": ..., "max_tokens": ..., "sla": ...} '
        "per line (max_tokens and sla optional)",
    )  # fmt: skip
    work.add_argument(
        "--stream", choices=("auto", "always", "never"), default="auto",
        help="auto: stream when the class profile says `streaming: true` (default)",
    )  # fmt: skip
    work.add_argument(
        "--streaming", dest="stream", action="store_const", const="always",
        help="genai-perf's flag: the same as --stream always",
    )  # fmt: skip
    work.add_argument(
        "--seed", "--random-seed", type=non_negative_int, default=0, help="workload seed"
    )

    cap = parser.add_argument_group(
        "capacity search",
        "--capacity finds the highest Poisson rate at which every class meets its SLO, the run\n"
        "sustained (served >= 95% of offered) and latency not rising (last third against first).",
    )
    cap.add_argument(
        "--capacity", action="store_true",
        help="search the rate (bracket x2, bisect, confirm); replaces the load and limit flags",
    )  # fmt: skip
    cap.add_argument(
        "--start-rate", type=positive_float, metavar="RPS", help="first probe (default: 4)"
    )
    cap.add_argument(
        "--min-rate", type=positive_float, metavar="RPS",
        help="lowest rate probed (default: 0.25)",
    )  # fmt: skip
    cap.add_argument(
        "--max-rate", type=positive_float, metavar="RPS",
        help="highest rate probed (default: 64)",
    )  # fmt: skip
    cap.add_argument(
        "--tolerance", type=positive_float, metavar="F",
        help="stop when (fail - pass) / pass <= F (default: 0.05)",
    )  # fmt: skip
    cap.add_argument(
        "--probe-seconds", type=positive_float, metavar="S",
        help="seconds of schedule per probe (default: 15)",
    )  # fmt: skip
    cap.add_argument(
        "--probe-requests", type=positive_int, metavar="N",
        help="at least this many measured requests per probe (default: 30)",
    )  # fmt: skip
    cap.add_argument(
        "--confirmations", type=non_negative_int, metavar="N",
        help="probe the capacity found N more times with other arrivals; it stands only if "
        "every probe meets the SLOs (default: 1)",
    )  # fmt: skip

    slo = parser.add_argument_group("objectives and output")
    slo.add_argument(
        "-g", "--goodput", nargs="+", action="extend", default=[], metavar="[CLASS.]KEY=MS",
        help="override a per-request goodput threshold (ttft_ms, itl_ms, e2e_ms) of every "
        "class or of one class (repeatable, comma-separated); genai-perf's KEY:MS with "
        "time_to_first_token, inter_token_latency or request_latency works too",
    )  # fmt: skip
    slo.add_argument(
        "--out", "--artifact-dir", type=Path, metavar="DIR",
        help="write summary.json, requests.csv, summary.csv, PNG plots and the genai-perf "
        "export here",
    )  # fmt: skip
    slo.add_argument(
        "--profile-export-file", default=DEFAULT_EXPORT, metavar="NAME",
        help="with --out: the genai-perf export is <NAME stem>_genai_perf.json and .csv "
        f"(default: {DEFAULT_EXPORT})",
    )  # fmt: skip
    slo.add_argument(
        "--json", action="store_true", help="print the summary JSON on stdout (tables omitted)"
    )
    slo.add_argument(
        "--no-server-stats", action="store_true",
        help="do not read the statistics API and metrics around each run",
    )  # fmt: skip
    parser.set_defaults(handler=run_bench)


def strategies_of(args: argparse.Namespace) -> tuple[LoadStrategy, ...]:
    """The load strategies the flags ask for, in run order."""

    def rate(value: float) -> LoadStrategy:
        if args.arrival == "gamma":
            return Gamma(value, args.burstiness)
        return ARRIVALS[args.arrival](value)

    if args.load:
        return tuple(strategy_from_name(name) for name in args.load)
    if args.fixed_schedule is not None:
        path = args.fixed_schedule
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as problem:
            raise ConfigError(str(path), "(file)", f"cannot read: {problem}", "check it") from None
        return (FixedSchedule.of(schedule_times(text, str(path))),)
    if args.request_rate is not None:
        return (rate(args.request_rate),)
    if args.sweep:
        kind, sep, values = args.sweep.partition("=")
        try:
            numbers = [float(v) for v in values.split(",")]
        except ValueError:
            numbers = []
        if kind not in ("concurrency", "rate") or not sep or not numbers:
            raise ConfigError(
                "--sweep", args.sweep, "expected concurrency=N1,N2,... or rate=R1,R2,...",
                "write e.g. --sweep concurrency=1,2,4,8",
            )  # fmt: skip
        if kind == "rate":
            return tuple(rate(value) for value in numbers)
        if not all(value.is_integer() for value in numbers):
            raise ConfigError("--sweep", args.sweep, "concurrency must be whole", "use 1,2,4")
        return tuple(Concurrent(int(value)) for value in numbers)
    return (Concurrent(args.concurrency or 1),)


def options_of(args: argparse.Namespace) -> BenchOptions:
    """BenchOptions from parsed flags."""
    requests = args.requests
    strategies = strategies_of(args)
    if requests is None and args.duration is None:
        fixed = [len(s.times) for s in strategies if isinstance(s, FixedSchedule)]
        requests = fixed[0] if fixed else DEFAULT_REQUESTS  # a fixed schedule ends with its times
    return BenchOptions(
        deploy=args.deploy,
        sets=tuple(args.sets),
        urls=tuple(args.urls),
        metrics_url=args.metrics_url,
        strategies=strategies,
        limits=Limits(
            requests=requests,
            duration_s=args.duration,
            warmup_requests=args.warmup_requests or 0,
            warmup_s=args.warmup_s,
            drain_s=args.drain_timeout or DEFAULT_DRAIN_S,
        ),
        mix=args.mix,
        input_tokens=TokenLengths(args.input_tokens, args.input_tokens_std),
        output_tokens=TokenLengths(args.output_tokens, args.output_tokens_std),
        prompts=args.prompts,
        seed=args.seed,
        goodput=tuple(args.goodput),
        endpoint=args.endpoint,
        stream=args.stream,
        timeout_s=args.timeout,
        server_stats=not args.no_server_stats,
        num_prompts=args.num_prompts,
        openai=openai_target(args),
    )


def openai_target(args: argparse.Namespace) -> OpenAiTarget | None:
    """Where --openai-url sends requests; None without it. --model and --endpoint-type (and
    --no-min-tokens) only mean something with it."""
    if args.openai_url is None:
        for flag, given in (
            ("--model", args.model is not None),
            ("--endpoint-type", args.endpoint_type != "completions"),
            ("--no-min-tokens", not args.min_tokens),
        ):
            if given:
                raise ConfigError(
                    flag, "(flag)", "applies to an OpenAI-compatible server only",
                    "add --openai-url, e.g. http://127.0.0.1:9000/v1",
                )  # fmt: skip
        return None
    return OpenAiTarget(args.openai_url, args.model, args.endpoint_type, args.min_tokens)


def capacity_settings_of(args: argparse.Namespace) -> CapacitySettings:
    """CapacitySettings from parsed flags; refuses the load and limit flags it replaces."""
    if args.openai_url is not None:
        raise ConfigError(
            "--capacity", "--openai-url", "capacity probes send through the routing SDK",
            "drop --openai-url, or measure the gateway at fixed loads (--request-rate)",
        )  # fmt: skip
    for field, flag in CAPACITY_EXCLUDES.items():
        if getattr(args, field):
            raise ConfigError(
                "--capacity", flag, "--capacity chooses each probe's rate and size itself",
                f"drop {flag}; use --start-rate/--min-rate/--max-rate and --probe-seconds/"
                "--probe-requests",
            )  # fmt: skip
    if args.arrival != "poisson" or args.warmup_s:
        flag = "--warmup-s" if args.warmup_s else "--arrival"
        raise ConfigError(
            "--capacity", flag, "capacity probes are Poisson runs with a request-count warm-up",
            f"drop {flag} (use --warmup-requests)",
        )  # fmt: skip
    values = {
        "start_rps": args.start_rate,
        "min_rps": args.min_rate,
        "max_rps": args.max_rate,
        "tolerance": args.tolerance,
        "probe_seconds": args.probe_seconds,
        "min_probe_requests": args.probe_requests,
        "warmup_requests": args.warmup_requests,
        "drain_s": args.drain_timeout,
        "confirmations": args.confirmations,
    }
    try:
        return CapacitySettings(**{k: v for k, v in values.items() if v is not None})
    except ConfigError as error:
        flag = CAPACITY_FLAGS.get(error.field, error.field)
        problem = error.problem
        for field, other in CAPACITY_FLAGS.items():
            problem = problem.replace(field, other)
        raise ConfigError("--capacity", flag, problem, f"change {flag}") from None


def run_capacity(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla bench --capacity`: probe, print each probe, then the capacity."""
    settings = capacity_settings_of(args)
    prepared = prepare(options_of(args))
    status = Console(stderr=True) if args.json else console
    done: list[Probe] = []

    def show(probe: Probe) -> None:
        done.append(probe)
        status.print(probe_line(len(done), probe), highlight=False)

    with RunProgress(status) as progress:
        result = asyncio.run(find_capacity(prepared, settings, progress, show))
    if args.json:
        sys.stdout.write(json.dumps(capacity_to_json(result), indent=2) + "\n")
    else:
        print_capacity(console, result)
    if args.out is not None:
        files = write_report(capacity_report(prepared, result), prepared.objectives, args.out)
        path = write_capacity_json(result, args.out / "capacity.json", settings_of(prepared))
        status.print(f"wrote {len(files) + 1} files to {args.out} ({path.name})", highlight=False)
    return 0


def run_bench(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla bench`; returns the exit status."""
    if args.capacity:
        return run_capacity(args, console)
    prepared = prepare(options_of(args))
    status = Console(stderr=True) if args.json else console
    with RunProgress(status) as progress:
        report = asyncio.run(run_benchmark(prepared, progress))
    if args.json:
        sys.stdout.write(json.dumps(report_document(report), indent=2) + "\n")
    else:
        print_report(console, report.runs)
        for note in report.notes:
            console.print(f"note: {note}", highlight=False)
    if args.out is not None:
        files = write_report(report, prepared.objectives, args.out, args.profile_export_file)
        status.print(f"wrote {len(files)} files to {args.out}", highlight=False)
    return 0
