"""Output tokens/s of every SLA endpoint of deploy/cpu.yaml through a real tritonserver, with
one request in flight (concurrency 1) and with 16 (in-flight batching), and their ratio.

Renders the deployment into a temporary folder (creating the default model in assets/ first),
starts tritonserver on free loopback ports (always stopped at the end), then, per profile, sends
`--requests` identical requests to `<profile>_ensemble`, streamed over gRPC by the routing SDK
(`SlaClient`, the model fixed: no routing, no admission control), from `--concurrency`
closed-loop threads (each request on its own stream, with a unique request id). Tokens are the
SDK's exact count (every response reports its tokens). A request the endpoint turns away (queue
full, queue timeout: `ServerRejectedError`) is counted as rejected, not retried: its thread
pauses `REJECT_BACKOFF_S` and takes the next request.

    .venv/bin/python benchmarks/endpoint_batching.py [--requests 64] [--concurrency 16]
                                                     [--max-tokens 64]

The client threads share the server's 2 cores, so absolute numbers include client overhead.
"""

from __future__ import annotations

import argparse
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from tokenizers import Tokenizer

from tritonsla.assets import write_default_model
from tritonsla.bench.fixtures.serving import (
    DEFAULT_MODEL,
    DEPLOY,
    script_parser,
    served_repository,
)
from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.profiles.schema import Profile
from tritonsla.routing import Replica, RequestError, ServerRejectedError, SlaClient, Timeout

PROMPT = "The quick brown fox jumps over the lazy dog while the server streams."  # 33 tokens
REJECT_BACKOFF_S = 0.05
REQUEST_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Outcome:
    """What one request got: streamed tokens, or why it got none."""

    tokens: int
    rejected: bool = False
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    """Requests served at one concurrency, and how long they took."""

    seconds: float
    outcomes: tuple[Outcome, ...]

    @property
    def tokens(self) -> int:
        return sum(o.tokens for o in self.outcomes)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.outcomes)

    @property
    def errors(self) -> list[str]:
        return [o.error for o in self.outcomes if o.error is not None and not o.rejected]


def send(client: SlaClient, model: str, prompt: str, max_tokens: int) -> Outcome:
    """One streamed request to `model` through the SDK, and what it got."""
    try:
        result = client.generate(prompt, model=model, max_tokens=max_tokens, stream=True)
    except ServerRejectedError as error:
        return Outcome(0, rejected=True, error=str(error))
    except RequestError as error:
        return Outcome(0 if error.result is None else len(error.result.chunks), error=str(error))
    return Outcome(len(result.chunks) if result.output_tokens is None else result.output_tokens)


def run_load(
    client: SlaClient, model: str, concurrency: int, n_requests: int, args: argparse.Namespace
) -> LoadResult:
    """Serve `n_requests` with `concurrency` closed-loop clients; time the whole run."""
    numbers = itertools.count()

    def loop(_: int) -> list[Outcome]:
        outcomes = []
        while next(numbers) < n_requests:
            outcomes.append(send(client, model, args.prompt, args.max_tokens))
            if outcomes[-1].rejected:
                time.sleep(REJECT_BACKOFF_S)
        return outcomes

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        per_client = list(pool.map(loop, range(concurrency)))
    seconds = time.perf_counter() - start
    return LoadResult(seconds, tuple(o for outcomes in per_client for o in outcomes))


def measure(client: SlaClient, deployment: Deployment, args: argparse.Namespace) -> Table:
    """tok/s at concurrency 1 and `args.concurrency` for each chosen profile's ensemble."""
    high = args.concurrency
    table = Table(
        title=f"Output tokens/s per endpoint through tritonserver ({args.requests} requests of "
        f"{args.prompt_tokens} prompt + up to {args.max_tokens} tokens, gRPC streaming)"
    )
    columns = ("endpoint", "precision", "max batch", "tok/req", "tok/s @1", f"tok/s @{high}")
    for column in (*columns, "ratio", f"rejected @{high}"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, profile in chosen(deployment, args.profiles).items():
        model = f"{name}_ensemble"
        warm = run_load(client, model, 1, 1, args)
        if warm.errors or warm.rejected:
            raise RuntimeError(f"{model} failed its warm-up request: {warm.outcomes[0].error}")
        single = run_load(client, model, 1, args.requests, args)
        batched = run_load(client, model, high, args.requests, args)
        for result in (single, batched):
            if result.errors:
                raise RuntimeError(
                    f"{model}: {len(result.errors)} errors, first: {result.errors[0]}"
                )
        table.add_row(
            model,
            profile.engine.precision,
            str(profile.batching.max_batch_size),
            f"{single.tokens / len(single.outcomes):.0f}",
            f"{single.tokens_per_s:.0f}",
            f"{batched.tokens_per_s:.0f}",
            f"{batched.tokens_per_s / single.tokens_per_s:.2f}x",
            f"{batched.rejected} of {args.requests}",
        )
    return table


def chosen(deployment: Deployment, names: list[str] | None) -> dict[str, Profile]:
    """The deployment's profiles, or only those named."""
    return {n: p for n, p in deployment.profiles.items() if not names or n in names}


def notes(profiles: dict[str, Profile], concurrency: int) -> list[str]:
    """Why some endpoints show less, or more, than the engine's gain from batching."""
    lines = []
    for name, profile in profiles.items():
        batch, waiting = profile.batching.max_batch_size, profile.queue.max_queue_size
        delay_ms = profile.batching.max_queue_delay_us / 1000
        if batch < concurrency:
            lines.append(
                f"{name}: max batch {batch} by design (lowest time to first token), so at most "
                f"{batch} requests decode together and its ratio is capped."
            )
        if waiting and batch + waiting < concurrency:
            lines.append(
                f"{name}: {concurrency} concurrent requests exceed its {batch} batch slots plus "
                f"queue of {waiting}; it rejects the rest by design (counted, not retried)."
            )
        if delay_ms >= 10:
            lines.append(
                f"{name}: each request may wait up to {delay_ms:.0f} ms in the queue for a batch "
                "to fill (by design); alone, it always waits, which slows concurrency 1 and "
                "inflates the ratio."
            )
    return lines


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--profiles", nargs="*", help="measure only these (default: all)")
    args = parser.parse_args()

    write_default_model(DEFAULT_MODEL)
    args.prompt_tokens = len(
        Tokenizer.from_file(str(DEFAULT_MODEL / "tokenizer.json")).encode(args.prompt)
    )
    console = Console(width=max(Console().width, 110))
    deployment = load_deployment(DEPLOY)
    with ExitStack() as stack:
        with console.status("starting tritonserver"):
            endpoints = stack.enter_context(served_repository(echo_models=False))
        replica = Replica(endpoints.grpc_address, endpoints.metrics_url)
        timeout = Timeout(REQUEST_TIMEOUT_S)
        client = SlaClient.from_deployment(deployment, replicas=[replica], timeout=timeout)
        table = measure(stack.enter_context(client), deployment, args)
    console.print(table)
    for line in notes(chosen(deployment, args.profiles), args.concurrency):
        console.print(f"- {line}")


if __name__ == "__main__":
    main()
