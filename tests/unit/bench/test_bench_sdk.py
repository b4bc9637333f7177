"""The SDK sender: which requests ask for exact lengths, and what it sends (no server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tritonsla.bench.schedule import Slot
from tritonsla.bench.sdk import SdkSender, pinned_table, to_record
from tritonsla.bench.workload import BenchRequest
from tritonsla.profiles.loading import load_deployment
from tritonsla.routing import (
    AsyncSlaClient,
    Chunk,
    EndpointTable,
    GenerationResult,
    StreamBrokenError,
)

CPU_DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "cpu.yaml"
ADDRESS = "127.0.0.1:18001"


@pytest.fixture(scope="module")
def table() -> EndpointTable:
    return EndpointTable.from_deployment(load_deployment(CPU_DEPLOY), replicas=[ADDRESS])


class Recording(AsyncSlaClient):
    """Records generate's keyword arguments instead of sending."""

    def __init__(self, table: EndpointTable) -> None:
        super().__init__(table)
        self.sent: list[dict] = []

    async def generate(self, prompt: str, **options) -> GenerationResult:  # type: ignore[override]
        self.sent.append(options)
        raise StreamBrokenError("stub", [Chunk("a", 1)])


def _sent(table: EndpointTable, **sender) -> dict:
    client = Recording(table)
    request = BenchRequest(0, "hi", 16, "realtime", 2)
    record = asyncio.run(SdkSender(client, **sender)(request, Slot(0, 0.0, False)))
    assert record.status == "error"
    return client.sent[0]


def test_contract_models_are_asked_for_exactly_max_tokens(table):
    assert _sent(table) == {"max_tokens": 16, "stream": True, "min_tokens": 16, "sla": "realtime"}
    assert _sent(table, model="batch_ensemble")["min_tokens"] == 16
    assert "min_tokens" not in _sent(table, exact_lengths=False)


def test_other_models_get_no_min_tokens(table):
    echo = pinned_table(table, "echo", ADDRESS)
    assert echo.models["echo"].engine_model is None
    assert "min_tokens" not in _sent(echo, model="echo")
    general = pinned_table(table, "general_ensemble", ADDRESS)  # rendered from another deploy
    assert general.models["general_ensemble"].engine_model == "general_tensorrt_llm"
    assert _sent(general, model="general_ensemble")["min_tokens"] == 16


def test_partial_answers_keep_their_reported_tokens():
    result = GenerationResult(
        text="ab",
        chunks=(Chunk("a", 1_000_000_000), Chunk("b", 1_100_000_000)),
        sla="realtime",
        model="realtime_tensorrt_llm_bls",
        replica=ADDRESS,
        request_id="r",
        streamed=True,
        send_ns=900_000_000,
        end_ns=1_200_000_000,
        output_tokens=3,
    )
    error = StreamBrokenError("gone", result.chunks)
    record = to_record(BenchRequest(0, "hi", 16, "realtime", 2), Slot(0, 0.0, False), result, error)
    assert (record.status, record.output_tokens, len(record.chunks)) == ("error", 3, 2)
