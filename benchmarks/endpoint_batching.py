"""Output tokens/s of every SLA endpoint of deploy/cpu.yaml through a real tritonserver, with
one request in flight (concurrency 1) and with 16 (in-flight batching), and their ratio.

Renders the deployment into a temporary folder (creating the default model in assets/ first),
starts tritonserver on free loopback ports (always stopped at the end), then, per profile, sends
`--requests` identical requests to `<profile>_ensemble` over gRPC streaming from `--concurrency`
closed-loop clients (each with its own stream; a unique request id per request). Each streamed
response carries one token, so tokens are counted as streamed responses carrying text. A request
the endpoint turns away (queue full, queue timeout) is counted as rejected, not retried: its
client pauses `REJECT_BACKOFF_S` and takes the next request.

    .venv/bin/python benchmarks/endpoint_batching.py [--requests 64] [--concurrency 16]
                                                     [--max-tokens 64]

The client threads share the server's 2 cores, so absolute numbers include client overhead.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from rich.console import Console
from rich.table import Table
from tokenizers import Tokenizer
from tritonclient.utils import InferenceServerException

from tritonsla.assets import write_default_model
from tritonsla.profiles.loading import Deployment
from tritonsla.profiles.schema import Profile
from tritonsla.repo.pipeline import render
from tritonsla.server import ServerOptions, TritonServer, free_ports

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "cpu.yaml"
MODEL_DIR = ROOT / "assets" / "tiny-gpt2"
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


def request_inputs(prompt: str, max_tokens: int) -> list[grpcclient.InferInput]:
    """The ensemble's inputs for a streamed request."""
    arrays = {
        "text_input": np.array([[prompt.encode()]], dtype=object),
        "max_tokens": np.array([[max_tokens]], dtype=np.int32),
        "stream": np.array([[True]], dtype=bool),
    }
    inputs = []
    for name, array in arrays.items():
        dtype = "BYTES" if array.dtype == object else grpcclient.np_to_triton_dtype(array.dtype)
        tensor = grpcclient.InferInput(name, list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def is_rejection(error: InferenceServerException) -> bool:
    """Whether the endpoint turned the request away (full queue, queue timeout)."""
    text = f"{error.status()} {error.message()}".lower()
    return "unavailable" in text or "queue" in text or "timeout" in text


class StreamClient:
    """One gRPC connection with one open stream, sending requests one after another."""

    def __init__(self, url: str) -> None:
        self._client = grpcclient.InferenceServerClient(url)
        self._responses: queue.Queue = queue.Queue()
        self._client.start_stream(
            callback=lambda result, error: self._responses.put((result, error))
        )

    def generate(self, model: str, inputs: list, request_id: str) -> Outcome:
        """Send one request and count its streamed tokens until the final response."""
        self._client.async_stream_infer(
            model, inputs, request_id=request_id, enable_empty_final_response=True
        )
        tokens = 0
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while True:
            result, error = self._responses.get(timeout=max(0.1, deadline - time.monotonic()))
            if error is not None:
                return Outcome(tokens, rejected=is_rejection(error), error=str(error))
            text = result.as_numpy("text_output")
            if text is not None and text.size:
                tokens += 1
            final = result.get_response().parameters.get("triton_final_response")
            if final is not None and final.bool_param:
                return Outcome(tokens)

    def close(self) -> None:
        self._client.stop_stream(cancel_requests=True)
        self._client.close()


def run_load(url: str, model: str, concurrency: int, n_requests: int, inputs: list) -> LoadResult:
    """Serve `n_requests` with `concurrency` closed-loop clients; time the whole run."""
    clients = [StreamClient(url) for _ in range(concurrency)]
    numbers = itertools.count()
    tag = uuid.uuid4().hex[:8]

    def loop(client: StreamClient) -> list[Outcome]:
        outcomes = []
        while (i := next(numbers)) < n_requests:
            outcomes.append(client.generate(model, inputs, f"{model}-{tag}-c{concurrency}-{i}"))
            if outcomes[-1].rejected:
                time.sleep(REJECT_BACKOFF_S)
        return outcomes

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            per_client = list(pool.map(loop, clients))
        seconds = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    return LoadResult(seconds, tuple(o for outcomes in per_client for o in outcomes))


def measure(deployment: Deployment, url: str, args: argparse.Namespace) -> Table:
    """tok/s at concurrency 1 and `args.concurrency` for each chosen profile's ensemble."""
    inputs = request_inputs(args.prompt, args.max_tokens)
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
        warm = run_load(url, model, 1, 1, inputs)
        if warm.errors or warm.rejected:
            raise RuntimeError(f"{model} failed its warm-up request: {warm.outcomes[0].error}")
        single = run_load(url, model, 1, args.requests, inputs)
        batched = run_load(url, model, high, args.requests, inputs)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--profiles", nargs="*", help="measure only these (default: all)")
    args = parser.parse_args()

    write_default_model(MODEL_DIR)
    args.prompt_tokens = len(
        Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json")).encode(args.prompt)
    )
    console = Console(width=max(Console().width, 110))
    with tempfile.TemporaryDirectory(prefix="tritonsla-endpoint-bench-") as tmp:
        repo = Path(tmp) / "model_repo"
        deployment = render(DEPLOY, repo).deployment
        http, grpc, metrics = free_ports(3)
        options = ServerOptions(
            model_repository=repo, http_port=http, grpc_port=grpc, metrics_port=metrics
        )
        server = TritonServer(options, log_file=Path(tmp) / "server.log", startup_timeout=240)
        try:
            with console.status("starting tritonserver"):
                server.start()
            table = measure(deployment, server.endpoints.grpc_address, args)
        finally:
            server.stop()
    console.print(table)
    for line in notes(chosen(deployment, args.profiles), args.concurrency):
        console.print(f"- {line}")


if __name__ == "__main__":
    main()
