"""The routing SDK (`tritonsla.routing.AsyncSlaClient`) as the runner's sender.

Routed mode sends each request with its SLA class and lets the SDK pick the endpoint; fixed
mode (`model=`) sends everything to one Triton model, bypassing routing. The SDK's timings
(`time.perf_counter_ns`: send, every chunk, end) become the record's; the request's
latencies still count from its scheduled time. Output tokens are the SDK's exact counts where
the model reports them (the ensemble/BLS contract), and requests to such models ask for exactly
`max_tokens` tokens (`min_tokens`). Failures come back as records whose `error_kind` is the
SDK's exception class without "Error" (ServerRejected, TotalTimeout, …).

`pinned_table` is a thin adapter for what the SDK does not offer: a fixed model that is not in
the deployment's endpoint table (a one-size-fits-all endpoint rendered from another deploy
file, or a benchmark's own model).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tritonsla.bench.records import RequestRecord
from tritonsla.bench.schedule import Slot
from tritonsla.bench.workload import BenchRequest
from tritonsla.profiles.schema import Profile
from tritonsla.routing import (
    AsyncSlaClient,
    Endpoint,
    EndpointTable,
    GenerationResult,
    Replica,
    RequestError,
)
from tritonsla.routing.table import contract_engine

NS = 1e9


def error_kind(error: BaseException) -> str:
    """`ServerRejectedError` -> `ServerRejected`."""
    return type(error).__name__.removesuffix("Error")


def to_record(
    request: BenchRequest,
    slot: Slot,
    result: GenerationResult | None,
    error: RequestError | None = None,
) -> RequestRecord:
    """The record of one request from the SDK's result (partial on failure, or None)."""
    chunks = () if result is None else tuple(chunk.arrival_ns / NS for chunk in result.chunks)
    tokens = len(chunks)
    if result is not None and result.output_tokens is not None:
        tokens = result.output_tokens
    return RequestRecord(
        index=request.index,
        sla=request.sla,
        endpoint=None if result is None else result.model,
        warmup=slot.warmup,
        status="ok" if error is None else "error",
        input_tokens=request.input_tokens,
        max_tokens=request.max_tokens,
        output_tokens=tokens,
        scheduled=slot.scheduled,
        sent=None if result is None or result.send_ns is None else result.send_ns / NS,
        first_token=chunks[0] if chunks else None,
        end=None if result is None else result.end_ns / NS,
        chunks=chunks,
        error_kind=None if error is None else error_kind(error),
        error=None if error is None else str(error),
    )


@dataclass(frozen=True)
class SdkSender:
    """Sends bench requests through an AsyncSlaClient.

    `streaming` maps class -> stream flag (the class profile's `streaming`); requests without
    a class, or of a class not in it, stream. `exact_lengths`: models of the ensemble/BLS
    contract are asked for `min_tokens` = max_tokens, so the end token cannot cut an answer
    short (the engine refuses end_id=-1); other models answer as they do. Output lengths are
    counted, never assumed.
    """

    client: AsyncSlaClient
    model: str | None = None
    streaming: Mapping[str, bool] | None = None
    exact_lengths: bool = True

    @functools.cached_property
    def sends_min_tokens(self) -> bool:
        """Whether requests carry min_tokens: exact lengths asked, and the target serves the
        contract (every routed class does; a fixed model when its endpoint says so)."""
        if not self.exact_lengths:
            return False
        if self.model is None:
            return True
        fixed = self.client.router.table.models.get(self.model)
        return fixed is not None and fixed.contract

    async def __call__(self, request: BenchRequest, slot: Slot) -> RequestRecord:
        stream = True
        if self.streaming is not None and request.sla is not None:
            stream = self.streaming.get(request.sla, True)
        options: dict = {"max_tokens": request.max_tokens, "stream": stream}
        if self.sends_min_tokens:
            options["min_tokens"] = request.max_tokens
        if self.model is not None:
            options["model"] = self.model
        else:
            options["sla"] = request.sla
        try:
            result = await self.client.generate(request.text, **options)
        except RequestError as error:
            return to_record(request, slot, error.result, error)
        return to_record(request, slot, result)


def pinned_table(
    table: EndpointTable, model: str, address: str, metrics_url: str | None = None
) -> EndpointTable:
    """`table` plus `model` at `address`, callable as a fixed model (`model=`), not routable.

    The extra endpoint has default queue settings: no Triton priority or timeout is sent. A
    model named as a contract model (`<profile>_ensemble`, `<profile>_tensorrt_llm_bls`) is
    treated as one: exact token counts, stops at its engine.
    """
    if model in table.models:
        return table
    replicas = (Replica(address, metrics_url),)
    endpoint = Endpoint(model, model, replicas, Profile(name="fixed"), contract_engine(model))
    return replace(table, models={**table.models, model: endpoint})
