"""Helpers of the bench unit tests: records by hand and a fake sender."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tritonsla.bench.records import RequestRecord
from tritonsla.bench.schedule import Slot
from tritonsla.bench.workload import BenchRequest


def record(
    index: int = 0,
    *,
    sla: str | None = "realtime",
    endpoint: str | None = "realtime_tensorrt_llm_bls",
    status: str = "ok",
    scheduled: float = 0.0,
    sent: float | None = None,
    chunks: tuple[float, ...] = (),
    tokens: int | None = None,
    warmup: bool = False,
    error_kind: str | None = None,
) -> RequestRecord:
    """A record whose first token and end are its first and last chunk."""
    return RequestRecord(
        index=index,
        sla=sla,
        endpoint=endpoint,
        warmup=warmup,
        status=status,  # type: ignore[arg-type]
        input_tokens=8,
        max_tokens=16,
        output_tokens=len(chunks) if tokens is None else tokens,
        scheduled=scheduled,
        sent=scheduled if sent is None and chunks else sent,
        first_token=chunks[0] if chunks else None,
        end=chunks[-1] if chunks else None,
        chunks=chunks,
        error_kind=error_kind,
    )


Sender = Callable[[BenchRequest, Slot], Awaitable[RequestRecord]]


def fake_sender(
    service_s: float, *, lock: asyncio.Lock | None = None, log: list | None = None
) -> Sender:
    """A sender that answers after `service_s`; with `lock`, one request at a time."""

    async def send(request: BenchRequest, slot: Slot) -> RequestRecord:
        if lock is not None:
            await lock.acquire()
        try:
            sent = time.perf_counter()
            if log is not None:
                log.append(("start", request.index, sent))
            await asyncio.sleep(service_s)
            end = time.perf_counter()
            if log is not None:
                log.append(("end", request.index, end))
        finally:
            if lock is not None:
                lock.release()
        return RequestRecord(
            index=request.index,
            sla=request.sla,
            endpoint="fake",
            warmup=slot.warmup,
            status="ok",
            input_tokens=request.input_tokens,
            max_tokens=request.max_tokens,
            output_tokens=1,
            scheduled=slot.scheduled,
            sent=sent,
            first_token=end,
            end=end,
            chunks=(end,),
        )

    return send
