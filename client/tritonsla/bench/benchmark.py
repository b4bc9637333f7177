"""A whole benchmark from typed options: prepare (read and check every input), then run.

    options = BenchOptions(Path("deploy/cpu.yaml"), mix="realtime=0.2,interactive=0.3,batch=0.5",
                           strategies=(Poisson(4.0),), limits=Limits(duration_s=60))
    report = asyncio.run(run_benchmark(prepare(options)))

`prepare` fails fast on bad input (ConfigError naming the option) before any request is sent.
Routed mode lets the SDK route each request by its class; `endpoint` sends every request to
one fixed model (routing bypassed) while classes still label requests, so each class is judged
by its own objective either way (the demo's single topology). `openai` sends every request to an
OpenAI-compatible server instead (the gateway, by its `x-sla-class` header), so the same
workload measures what the gateway adds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from tritonsla.bench.objectives import deployment_objectives, parse_goodput, with_overrides
from tritonsla.bench.openai import OpenAiTarget, openai_sender
from tritonsla.bench.records import BenchReport
from tritonsla.bench.runner import ProgressHook, Sender, ServerTarget, run_sweep
from tritonsla.bench.schedule import Concurrent, Limits, LoadStrategy
from tritonsla.bench.sdk import SdkSender, pinned_table
from tritonsla.bench.workload import (
    PromptFile,
    PromptSource,
    SyntheticPrompts,
    TokenLengths,
    Workload,
    equal_mix,
    load_prompt_file,
    parse_mix,
)
from tritonsla.errors import ConfigError
from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.profiles.schema import Slo
from tritonsla.routing import AsyncSlaClient, EndpointTable, Replica, Timeout
from tritonsla.text.tokenizer import load_tokenizer

StreamMode = Literal["auto", "always", "never"]
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BenchOptions:
    """Everything one benchmark invocation needs; CLI flags map onto these fields."""

    deploy: Path
    sets: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    metrics_url: str | None = None
    strategies: tuple[LoadStrategy, ...] = (Concurrent(1),)
    limits: Limits = field(default_factory=lambda: Limits(requests=100))
    mix: str | None = None
    input_tokens: TokenLengths = field(default_factory=lambda: TokenLengths(64))
    output_tokens: TokenLengths = field(default_factory=lambda: TokenLengths(32))
    prompts: Path | None = None
    seed: int = 0
    goodput: tuple[str, ...] = ()
    endpoint: str | None = None
    stream: StreamMode = "auto"
    timeout_s: float = 600.0
    server_stats: bool = True
    num_prompts: int | None = None
    openai: OpenAiTarget | None = None


@dataclass(frozen=True)
class PreparedBench:
    """Checked inputs: the deployment, objectives, workload and the endpoint table to call."""

    options: BenchOptions
    deployment: Deployment
    objectives: dict[str, Slo]
    workload: Workload
    table: EndpointTable
    streaming: dict[str, bool]
    replicas: tuple[Replica, ...]

    @property
    def servers(self) -> tuple[ServerTarget, ...]:
        """Servers whose statistics are read around each run (none when turned off)."""
        if not self.options.server_stats:
            return ()
        return tuple(ServerTarget(r.address, r.metrics_url) for r in self.replicas)


def _replicas(options: BenchOptions) -> list[Replica] | None:
    if not options.urls:
        return None
    try:
        replicas = [Replica.parse(url) for url in options.urls]
    except ValueError as error:
        raise ConfigError(
            "--url", " ".join(options.urls), str(error), "write host:grpc_port"
        ) from None
    first = replicas[0]
    return [Replica(first.address, options.metrics_url), *replicas[1:]]


def _prompts(options: BenchOptions, deployment: Deployment) -> PromptSource:
    tokenizer = load_tokenizer(deployment.path(deployment.deploy.model.tokenizer))
    if options.prompts is not None:
        return load_prompt_file(options.prompts, tokenizer)
    return SyntheticPrompts.from_tokenizer(tokenizer, options.input_tokens, options.seed)


def _check_combinations(options: BenchOptions) -> None:
    if options.num_prompts is not None and options.prompts is not None:
        raise ConfigError(
            "--num-prompts", str(options.num_prompts),
            "applies to synthetic prompts; a --prompts file cycles through its own lines",
            "drop --num-prompts, or keep as many lines in the file",
        )  # fmt: skip
    if options.openai is not None and options.endpoint is not None:
        raise ConfigError(
            "--openai-url", options.openai.base_url,
            "sends every request to the OpenAI server; --endpoint names a Triton model",
            "drop --endpoint (or --openai-url)",
        )  # fmt: skip


def prepare(options: BenchOptions) -> PreparedBench:
    """Read and check every input; nothing is sent yet."""
    _check_combinations(options)
    deployment = load_deployment(options.deploy, list(options.sets))
    if options.openai is not None and options.openai.model is None:
        target = dataclasses.replace(options.openai, model=deployment.deploy.model.name)
        options = dataclasses.replace(options, openai=target)
    classes = list(deployment.profiles)
    mix = parse_mix(options.mix, classes) if options.mix else equal_mix(classes)
    objectives = with_overrides(
        deployment_objectives(deployment), parse_goodput(options.goodput, classes)
    )
    prompts = _prompts(options, deployment)
    if isinstance(prompts, PromptFile):
        unknown = sorted({e.sla for e in prompts.entries if e.sla and e.sla not in classes})
        if unknown:
            raise ConfigError(
                str(options.prompts), "sla", f"unknown class(es) {', '.join(unknown)}",
                f"available: {', '.join(classes)}",
            )  # fmt: skip
    workload = Workload(prompts, options.output_tokens, mix, options.seed, options.num_prompts)
    table = EndpointTable.from_deployment(deployment, replicas=_replicas(options))
    replicas = {r.address: r for e in table.endpoints.values() for r in e.replicas}
    if options.endpoint is not None:
        first = next(iter(replicas.values()))
        table = pinned_table(table, options.endpoint, first.address, first.metrics_url)
    streaming = {
        name: {"auto": profile.streaming, "always": True, "never": False}[options.stream]
        for name, profile in deployment.profiles.items()
    }
    return PreparedBench(
        options, deployment, objectives, workload, table, streaming, tuple(replicas.values())
    )


def settings_of(prepared: PreparedBench) -> dict[str, Any]:
    """The settings a report records: enough to run the same benchmark again."""
    options = prepared.options
    workload = prepared.workload
    return {
        "deploy": str(options.deploy),
        "sets": list(options.sets),
        "servers": [replica.address for replica in prepared.replicas],
        "mode": _mode(options),
        "endpoint": options.endpoint,
        "openai": None if options.openai is None else _openai_settings(options.openai),
        "loads": [strategy.name for strategy in options.strategies],
        "limits": dataclasses.asdict(options.limits),
        "mix": None if workload.mix is None else workload.mix.shares,
        "prompts": str(options.prompts) if options.prompts else "synthetic",
        "num_prompts": options.num_prompts,
        "input_tokens": dataclasses.asdict(options.input_tokens),
        "output_tokens": dataclasses.asdict(options.output_tokens),
        "streaming": prepared.streaming,
        "seed": options.seed,
        "timeout_s": options.timeout_s,
        "objectives": {k: v.model_dump(mode="json") for k, v in prepared.objectives.items()},
    }


def _mode(options: BenchOptions) -> str:
    if options.openai is not None:
        return "openai"
    return "fixed endpoint" if options.endpoint else "routed"


def _openai_settings(target: OpenAiTarget) -> dict[str, Any]:
    return {
        "url": target.base_url,
        "model": target.model,
        "endpoint_type": target.endpoint_type,
        "min_tokens": target.exact_lengths,
    }


def notes_of(prepared: PreparedBench) -> tuple[str, ...]:
    """What a report says about how the requests were sent."""
    openai = prepared.options.openai
    if openai is not None:
        return (
            f"every request went to the OpenAI-compatible server {openai.base_url} "
            f"({openai.endpoint_type}, model {openai.model}) with its class in the x-sla-class "
            "header; latencies are measured at this client, through that server",
        )
    endpoint = prepared.options.endpoint
    if not endpoint:
        return ()
    return (
        f"every request went to {endpoint} (routing bypassed); classes label the requests so "
        "each is judged by its own class objective",
    )


@asynccontextmanager
async def sdk_sender(prepared: PreparedBench) -> AsyncIterator[SdkSender]:
    """The routing SDK as the sender of the prepared benchmark; its client closes on exit."""
    options = prepared.options
    timeout = Timeout(options.timeout_s, connect=min(CONNECT_TIMEOUT_S, options.timeout_s))
    async with AsyncSlaClient(prepared.table, timeout=timeout) as client:
        yield SdkSender(client, options.endpoint, prepared.streaming)


def sender_of(prepared: PreparedBench) -> AbstractAsyncContextManager[Sender]:
    """The OpenAI sender with `openai` set, else the routing SDK's."""
    options = prepared.options
    if options.openai is None:
        return sdk_sender(prepared)
    connect = min(CONNECT_TIMEOUT_S, options.timeout_s)
    return openai_sender(options.openai, prepared.streaming, options.timeout_s, connect)


async def run_benchmark(
    prepared: PreparedBench, progress: ProgressHook | None = None
) -> BenchReport:
    """Run every load of the prepared benchmark in order; the client is closed at the end."""
    options = prepared.options
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    async with sender_of(prepared) as sender:
        runs = await run_sweep(
            options.strategies,
            options.limits,
            prepared.workload,
            sender,
            prepared.objectives,
            servers=prepared.servers,
            seed=options.seed,
            progress=progress,
        )
    return BenchReport(settings_of(prepared), tuple(runs), started, notes_of(prepared))
