"""Both clients against a port nobody listens on: fast, typed failures; nothing hangs."""

from __future__ import annotations

import asyncio
import time

import pytest

from tritonsla.routing import (
    AsyncSlaClient,
    DeadlineUnmeetableError,
    ReplicaUnavailableError,
    SlaClient,
    Timeout,
)
from tritonsla.server.ports import free_ports


@pytest.fixture
def closed() -> list[str]:
    return [f"127.0.0.1:{port}" for port in free_ports(2)]


def test_sync_client_tries_every_replica_then_fails_typed(closed, cpu_deploy):
    started = time.monotonic()
    with SlaClient.from_deploy(cpu_deploy, replicas=closed, timeout=Timeout(5.0)) as client:
        with pytest.raises(ReplicaUnavailableError, match="no replica of class 'realtime' is up"):
            client.generate("hi", sla="realtime", max_tokens=4)
        assert not any(client.router.health.is_up(address) for address in closed)
        with pytest.raises(ReplicaUnavailableError) as caught:  # both are marked down now
            client.generate("hi", sla="realtime", max_tokens=4)
    assert caught.value.result is None  # nothing was attempted
    assert time.monotonic() - started < 5.0


def test_failed_attempt_is_attached_to_the_error(closed, cpu_deploy):
    client = SlaClient.from_deploy(cpu_deploy, replicas=closed[:1])
    with client, pytest.raises(ReplicaUnavailableError) as caught:
        client.generate("hi", max_tokens=4, request_id="req-1")
    partial = caught.value.result
    assert (partial.request_id, partial.replica, partial.sla) == ("req-1", closed[0], "interactive")
    assert partial.chunks == () and partial.error is caught.value and not partial.ok


def test_async_client_fails_typed(closed, cpu_deploy):
    async def run() -> None:
        async with AsyncSlaClient.from_deploy(cpu_deploy, replicas=closed) as client:
            with pytest.raises(ReplicaUnavailableError):
                await client.generate("hi", sla="batch", max_tokens=4, stream=False)
            with pytest.raises(ReplicaUnavailableError):  # a fixed replica is not health-tracked
                await client.generate("hi", model="batch_ensemble", url=closed[0], max_tokens=4)

    asyncio.run(asyncio.wait_for(run(), timeout=10))


def test_admission_needs_no_server(closed, cpu_deploy):
    with SlaClient.from_deploy(cpu_deploy, replicas=closed) as client:
        client.router.latency.observe_stream("realtime_tensorrt_llm_bls", 50.0, 50.0, 1)
        with pytest.raises(DeadlineUnmeetableError, match="'realtime' would answer in ~50 ms"):
            client.generate("hi", sla="realtime", max_tokens=1, deadline_s=0.01)


def test_unknown_arguments_fail_before_anything_is_sent(closed, cpu_deploy):
    client = SlaClient.from_deploy(cpu_deploy, replicas=closed)
    with client, pytest.raises(TypeError, match=r"unknown argument\(s\) temprature"):
        client.generate("hi", temprature=0.5)
