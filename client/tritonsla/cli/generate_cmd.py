"""`tritonsla generate`: send one prompt through the routing client and stream the answer.

The answer goes to stdout as it arrives; where it was served, TTFT and tokens/s go to stderr
at the end. Ctrl-C closes the stream, which cancels the request on the server.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from tritonsla.cli.options import (
    add_deployment_options,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    replica_address,
)
from tritonsla.routing import (
    GenerationResult,
    ReplicaUnavailableError,
    SlaClient,
    Timeout,
)
from tritonsla.routing.policy import PRIORITIES
from tritonsla.routing.table import TARGET_ROLES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `generate` and its flags."""
    parser = subparsers.add_parser(
        "generate",
        help="send a prompt to the endpoint its SLA calls for and stream the answer",
        description="Route a prompt by SLA class (or priority and deadline) and stream the "
        "answer to the terminal; TTFT and tokens/s are printed on stderr at the end.",
    )
    parser.add_argument("prompt", help="the prompt text")
    add_deployment_options(parser)
    parser.add_argument("--sla", help="SLA class (default: chosen by --priority and --deadline)")
    parser.add_argument("--priority", choices=PRIORITIES, help="request priority")
    parser.add_argument(
        "--deadline", type=positive_float, metavar="SECONDS", help="answer useless after this long"
    )
    parser.add_argument(
        "--allow-spill", action="store_true", help="a looser class may take a late request"
    )
    parser.add_argument("--max-tokens", type=positive_int, default=64, help="tokens to generate")
    parser.add_argument(
        "--no-stream", dest="stream", action="store_false", help="one response, not a stream"
    )
    parser.add_argument(
        "--temperature", type=non_negative_float, help="sampling temperature (0: greedy)"
    )
    parser.add_argument(
        "--top-k", type=non_negative_int, help="sample among the k likeliest tokens"
    )
    parser.add_argument("--top-p", type=fraction, help="nucleus sampling mass, 0 to 1")
    parser.add_argument("--seed", type=non_negative_int, help="random seed")
    parser.add_argument(
        "--url", type=replica_address, help="send to this replica (host:grpc_port) instead"
    )
    parser.add_argument("--model", help="send to this Triton model, bypassing routing")
    parser.add_argument(
        "--target",
        choices=tuple(TARGET_ROLES),
        default="bls",
        help="model of each class: the BLS (priorities work) or the ensemble",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="for the whole answer",
    )
    parser.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace, console: Console) -> int:
    """Handle `tritonsla generate`; returns the exit status."""
    timeout = Timeout(args.timeout, connect=min(args.timeout, 5.0))
    with SlaClient.from_deploy(args.deploy, args.sets, target=args.target, timeout=timeout) as sla:
        try:
            with sla.stream(
                args.prompt,
                sla=args.sla,
                priority=args.priority,
                deadline_s=args.deadline,
                allow_spill=args.allow_spill,
                max_tokens=args.max_tokens,
                stream=args.stream,
                temperature=args.temperature,
                top_k=args.top_k,
                top_p=args.top_p,
                seed=args.seed,
                url=args.url,
                model=args.model,
            ) as chunks:
                for chunk in chunks:
                    console.print(chunk.text, end="", markup=False, highlight=False)
        except ReplicaUnavailableError as error:
            raise ReplicaUnavailableError(
                f"{error}. Is the server running? Start it with `tritonsla serve --deploy "
                f"{args.deploy}`, or point --url at a running replica"
            ) from error
    console.print()
    Console(stderr=True).print(summary(chunks.result), highlight=False, soft_wrap=True)
    return 0


def summary(result: GenerationResult) -> str:
    """One line: where the answer was served, TTFT, tokens and tokens/s."""
    where = f"{result.model} on {result.replica}"
    if result.spilled_from:
        where += f" (spilled from {result.spilled_from})"
    ttft = "n/a" if result.ttft_s is None else f"{result.ttft_s * 1000:.0f} ms"
    e2e = result.e2e_s or 0.0
    if result.output_tokens is None:
        tokens = "tokens unknown (no tokenizer)"
    else:
        rate = f"{result.output_tokens / e2e:.1f} tokens/s" if e2e > 0 else "n/a tokens/s"
        tokens = f"{result.output_tokens} tokens in {e2e:.2f} s, {rate}"
    return f"{where}: TTFT {ttft}, {tokens}"
