"""The runner with fake senders, and the SDK result -> record conversion."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from benchkit import fake_sender

from tritonsla.bench.records import RequestRecord
from tritonsla.bench.runner import expected_requests, run_load, run_once, run_sweep
from tritonsla.bench.schedule import Concurrent, Constant, Limits, Poisson, Slot
from tritonsla.bench.sdk import error_kind, to_record
from tritonsla.bench.workload import BenchRequest, PromptEntry, PromptFile, TokenLengths, Workload
from tritonsla.profiles.schema import Slo
from tritonsla.routing import Chunk, GenerationResult, ServerRejectedError

WORKLOAD = Workload(
    PromptFile(
        Path("inline"), (PromptEntry("hi", 1, 4, "realtime"), PromptEntry("yo", 1, 8, "batch"))
    ),
    TokenLengths(4),
)


class Hook:
    def __init__(self) -> None:
        self.events: list = []

    def start(self, name: str, total: int | None) -> None:
        self.events.append(("start", name, total))

    def advance(self, record: RequestRecord) -> None:
        self.events.append(("advance", record.status))

    def finish(self) -> None:
        self.events.append(("finish",))


def test_records_start_at_zero_and_progress_is_reported() -> None:
    hook = Hook()
    records = asyncio.run(
        run_load(Concurrent(2), Limits(requests=6, warmup_requests=2), WORKLOAD,
                 fake_sender(0.002), progress=hook)
    )  # fmt: skip
    assert len(records) == 8
    assert min(r.scheduled for r in records) == 0.0
    assert sum(r.warmup for r in records) == 2
    assert all(r.end > r.scheduled for r in records)
    assert hook.events[0] == ("start", "concurrent@2", 8)
    assert hook.events.count(("advance", "ok")) == 8
    assert hook.events[-1] == ("finish",)


def test_cancelled_requests_become_incomplete_records() -> None:
    async def stuck(request: BenchRequest, slot: Slot) -> RequestRecord:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    records = asyncio.run(
        run_load(Concurrent(2), Limits(requests=2, drain_s=0.05), WORKLOAD, stuck)
    )
    assert [r.status for r in records] == ["incomplete", "incomplete"]
    assert {r.sla for r in records} == {"realtime", "batch"}
    assert records[0].error_kind == "Cancelled"


def test_run_once_and_sweep_summarize_each_load() -> None:
    objectives = {"realtime": Slo(e2e_ms=10_000), "batch": Slo(e2e_ms=10_000)}
    run = asyncio.run(
        run_once(Constant(500.0), Limits(requests=10), WORKLOAD, fake_sender(0.001), objectives)
    )
    assert run.name == "constant@500rps"
    assert run.summary.overall.counts.ok == 10
    assert run.summary.passed is True
    assert (run.servers, run.server_error) == ((), None)
    runs = asyncio.run(
        run_sweep([Concurrent(1), Concurrent(2)], Limits(requests=4), WORKLOAD,
                  fake_sender(0.001), objectives)
    )  # fmt: skip
    assert [r.name for r in runs] == ["concurrent@1", "concurrent@2"]


def test_expected_requests() -> None:
    assert expected_requests(Concurrent(4), Limits(requests=10, warmup_requests=2)) == 12
    assert expected_requests(Poisson(4.0), Limits(duration_s=10, warmup_s=2)) == 48
    assert expected_requests(Concurrent(4), Limits(duration_s=10)) is None


def _result(chunks: tuple[int, ...], tokens: int | None, error=None) -> GenerationResult:
    return GenerationResult(
        text="".join("x" for _ in chunks),
        chunks=tuple(Chunk("x", ns) for ns in chunks),
        sla="realtime",
        model="realtime_tensorrt_llm_bls",
        replica="127.0.0.1:8001",
        request_id="r1",
        streamed=True,
        send_ns=1_000_000_000,
        end_ns=2_000_000_000,
        output_tokens=tokens,
        error=error,
    )


def test_sdk_results_become_records_in_seconds() -> None:
    request = BenchRequest(3, "hi", 16, "realtime", 2)
    slot = Slot(3, 0.5, False)
    record = to_record(request, slot, _result((1_100_000_000, 1_500_000_000), 2))
    assert (record.status, record.endpoint, record.output_tokens) == (
        "ok", "realtime_tensorrt_llm_bls", 2,
    )  # fmt: skip
    assert record.sent == 1.0
    assert record.chunks == (1.1, 1.5)
    assert record.ttft == pytest.approx(0.6)  # from the scheduled time, not the send
    assert record.e2e == pytest.approx(1.5)


def test_sdk_failures_keep_their_partial_timings() -> None:
    error = ServerRejectedError("queue full")
    record = to_record(
        BenchRequest(0, "hi", 16, "realtime", 2), Slot(0, 0.9, False), _result((), None), error
    )
    assert (record.status, record.error_kind, record.error) == (
        "error",
        "ServerRejected",
        "queue full",
    )
    assert record.sent == 1.0
    assert record.output_tokens == 0
    assert error_kind(TimeoutError()) == "Timeout"
    unsent = to_record(BenchRequest(0, "hi", 16, None, 2), Slot(0, 0.0, True), None, error)
    assert (unsent.sent, unsent.endpoint, unsent.warmup) == (None, None, True)
