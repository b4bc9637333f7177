"""Output tokens/s of the CPU engine without in-flight batching (concurrency 1) and with it.

Writes a random checkpoint (default size unless `--n-layer/--n-embd/--n-head` say otherwise) to
a temporary folder, builds the engine in-process and runs the same requests (random prompts,
greedy, no end id, so every request generates exactly `--new-tokens`) with one request in
flight at a time and with `--concurrency` in flight, `--repeat` times each, alternating (the
machine may be shared: alternation spreads its noise over both), then prints the median tokens/s
of each and their ratio. Bound BLAS threads through the environment (e.g.
OPENBLAS_NUM_THREADS=1) as the server launcher does.

    .venv/bin/python benchmarks/cpu_batching.py [--requests 32] [--concurrency 16]
                                                [--precision fp32]
    # the demo's model size, whose weights outgrow the CPU caches:
    .venv/bin/python benchmarks/cpu_batching.py --n-layer 8 --n-embd 512 --n-head 8

Batching pays where one sequence leaves the machine idle: a decode step of one sequence is bound
by per-step overhead (numpy calls, Python) and by reading every weight from memory for a single
column; sixteen sequences share both. What batching cannot share is arithmetic: at the default
size (3.7 M parameters) one output token costs about 10 MFLOP here (its share of the 32-token
prefill plus its decode), and at ~100 GFLOP/s (one core, OpenBLAS) that caps concurrency 16 near
10 k tokens/s before attention and overhead, against roughly 2 k tokens/s at concurrency 1.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from tritonsla.bench.fixtures.serving import script_parser
from tritonsla.cpu.checkpoint import write_default_checkpoint
from tritonsla.cpu.config import EngineConfig
from tritonsla.cpu.engine import Engine
from tritonsla.engine_request import GenerationRequest, OutputEvent

VOCAB_SIZE = 1024


def run(engine: Engine, prompts: list[tuple[int, ...]], new_tokens: int, concurrency: int) -> float:
    """Seconds to serve every prompt with at most `concurrency` requests in flight."""
    slots = threading.Semaphore(concurrency)
    finished = threading.Semaphore(0)
    generated: list[int] = []

    def on_event(event: OutputEvent) -> None:
        if event.final:
            generated.append(len(event.token_ids))
            slots.release()
            finished.release()

    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        slots.acquire()
        engine.submit(
            GenerationRequest(
                (concurrency, i), prompt, new_tokens, on_event, exclude_input_in_output=True
            )
        )
    for _ in prompts:
        finished.acquire()
    elapsed = time.perf_counter() - start
    if generated != [new_tokens] * len(prompts):
        raise RuntimeError(f"expected {new_tokens} tokens per request, got {generated}")
    return elapsed


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per concurrency (median)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    prompts = [
        tuple(int(t) for t in rng.integers(0, VOCAB_SIZE, args.prompt_len))
        for _ in range(args.requests)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = write_default_checkpoint(
            Path(tmp) / "gpt2",
            VOCAB_SIZE,
            0,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
        )
        config = EngineConfig(checkpoint, precision=args.precision, max_batch_size=args.concurrency)
        levels = (1, args.concurrency)
        seconds: dict[int, list[float]] = {c: [] for c in levels}
        with Engine(config) as engine:
            run(engine, prompts[:2], 4, 1)  # warm-up
            for _ in range(args.repeat):
                for c in levels:
                    seconds[c].append(run(engine, prompts, args.new_tokens, c))

    total = args.requests * args.new_tokens
    baseline = total / float(np.median(seconds[1]))
    table = Table(
        title=f"CPU engine, GPT-2 {args.n_layer}x{args.n_embd} {args.precision}: "
        f"{args.requests} requests of {args.prompt_len} prompt + {args.new_tokens} new tokens, "
        f"median of {args.repeat}"
    )
    for column in ("concurrency", "seconds", "output tokens/s", "range", "vs concurrency 1"):
        table.add_column(column, justify="right")
    for concurrency, runs in seconds.items():
        rate = total / float(np.median(runs))
        spread = f"{total / max(runs):.0f}-{total / min(runs):.0f}"
        table.add_row(
            str(concurrency),
            f"{np.median(runs):.2f}",
            f"{rate:.0f}",
            spread,
            f"{rate / baseline:.2f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
