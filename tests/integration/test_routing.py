"""The routing SDK against real tritonservers: streaming, routing, admission, replicas, failures.

Servers come from the shared fixtures (`cpu_server`: deploy/cpu.yaml; `serve`: variants) or,
where the server's log must be read (cancellation), from the same launcher with verbose logging.
Realtime-only deployments start in seconds and back the replica tests. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import tritonclient.grpc as grpcclient
import yaml

from tests.integration.conftest import CPU_DEPLOY, ROOT, ServedDeployment, variant_deploy
from tritonsla.errors import ServerError
from tritonsla.repo.pipeline import render
from tritonsla.routing import (
    AsyncSlaClient,
    DeadlineUnmeetableError,
    FirstTokenTimeoutError,
    GenerationResult,
    Replica,
    RequestError,
    ServerRejectedError,
    SlaClient,
    StreamBrokenError,
    Timeout,
)
from tritonsla.routing.load import fetch_metrics
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import free_ports
from tritonsla.server.process import TritonServer

pytestmark = pytest.mark.integration
T = TypeVar("T")

PROMPT = "Once upon a time"


def replica(served: ServedDeployment) -> Replica:
    return Replica(served.endpoints.grpc_address, served.endpoints.metrics_url)


def client_of(*served: ServedDeployment, **options) -> SlaClient:
    return SlaClient.from_deployment(
        served[0].deployment, replicas=[replica(s) for s in served], **options
    )


def inference_count(address: str, model: str) -> int:
    """Requests `model` finished (success + failure), from the statistics API."""
    client = grpcclient.InferenceServerClient(address)
    try:
        stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    finally:
        client.close()
    counts = stats["inference_stats"]
    return sum(int(counts.get(kind, {}).get("count", 0)) for kind in ("success", "fail"))


def realtime_only_deploy(folder: Path) -> Path:
    """deploy/cpu.yaml reduced to its realtime class, paths made absolute (starts in seconds)."""
    data = yaml.safe_load(CPU_DEPLOY.read_text())
    data["profiles"] = ["realtime"]
    data["overrides"] = {"realtime": data["overrides"]["realtime"]}
    data.pop("budget")  # one class is not the three-class budget
    data["profiles_dir"] = str(ROOT / "profiles")
    for key in ("checkpoint", "tokenizer"):
        data["model"][key] = str((CPU_DEPLOY.parent / data["model"][key]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "realtime.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fork_safe(start: Callable[[], T]) -> T:
    """start(), once more if the server child died of gRPC's fork handlers before exec.

    Spawning with a preexec_fn while this process uses gRPC can abort the child ("epoll_wait
    error: Bad file descriptor"); reported to the launcher's owner. Any other failure raises.
    """
    try:
        return start()
    except ServerError as error:
        if "epoll_wait error" not in str(error):
            raise
        return start()


@contextmanager
def running(server: TritonServer) -> Iterator[TritonServer]:
    """A started server (fork_safe), always stopped."""
    fork_safe(server.start)
    try:
        yield server
    finally:
        server.stop()


def hard_stop(server: TritonServer) -> None:
    """SIGKILL the server's group, then reap it.

    After client cancellations or queue-full rejections the BLS model does not unload and a
    graceful stop waits out Triton's 30 s exit timeout (reported to the BLS owner); tests that
    cause those end their server this way to keep the suite short.
    """
    os.killpg(server.pid, signal.SIGKILL)
    server.stop()


def engine_gauge(served: ServedDeployment, sla: str, name: str) -> float:
    """The CPU engine's series `tritonsla_engine_<name>` of class `sla` (a gauge or counter)."""
    text = urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()
    model = f"{sla}_tensorrt_llm"
    found = re.search(rf'^tritonsla_engine_{name}\{{model="{model}",[^}}]*\}} (\S+)$', text, re.M)
    assert found, f"no tritonsla_engine_{name} for {model}"
    return float(found.group(1))


def settled_tokens(served: ServedDeployment, sla: str, timeout: float = 30.0) -> float:
    """Tokens the engine of `sla` generated so far, once it is idle and the figure is stable."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        busy = sum(engine_gauge(served, sla, g) for g in ("active_requests", "waiting_requests"))
        tokens = engine_gauge(served, sla, "generated_tokens_total")
        if busy == 0 and tokens == last:
            return tokens
        last = tokens
        time.sleep(0.3)
    raise AssertionError(f"the {sla} engine did not settle within {timeout} s")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


# --- streaming, routing, admission (deploy/cpu.yaml) ---------------------------------------------
def test_stream_arrives_token_by_token_with_ttft(cpu_server):
    seen_ns: list[int] = []
    with client_of(cpu_server) as client:
        with client.stream(PROMPT, sla="realtime", max_tokens=24) as chunks:
            for chunk in chunks:
                seen_ns.append(time.perf_counter_ns())
                assert chunk.arrival_ns <= seen_ns[-1]
        result = chunks.result

    assert result.ok and result.streamed
    assert (result.sla, result.model) == ("realtime", "realtime_tensorrt_llm_bls")
    assert result.replica == cpu_server.endpoints.grpc_address
    assert len(result.chunks) > 1
    assert seen_ns[0] < result.end_ns  # the first chunk reached the caller before the end
    arrivals = [chunk.arrival_ns for chunk in result.chunks]
    assert arrivals == sorted(arrivals)
    assert result.send_ns < result.first_token_ns == arrivals[0] <= arrivals[-1] <= result.end_ns
    assert result.ttft_s > 0 and len(result.itl_s) == len(result.chunks) - 1
    assert result.text == "".join(chunk.text for chunk in result.chunks) != ""
    assert len(result.chunks) <= result.output_tokens <= 24  # whole characters hold tokens back
    assert result.triton_priority == 2  # realtime's default level: 2 levels, "normal"


def test_routing_reaches_the_models_its_classes_call_for(cpu_server):
    address = cpu_server.endpoints.grpc_address
    models = (
        "realtime_tensorrt_llm_bls",
        "interactive_tensorrt_llm_bls",
        "batch_tensorrt_llm_bls",
        "batch_ensemble",
    )
    before = {model: inference_count(address, model) for model in models}

    async def run() -> list[GenerationResult]:
        async with AsyncSlaClient.from_deployment(
            cpu_server.deployment, replicas=[replica(cpu_server)]
        ) as client:
            return await asyncio.gather(
                client.generate(PROMPT, deadline_s=5.0, max_tokens=8),  # only realtime meets it
                client.generate(PROMPT, priority="high", max_tokens=8),  # default class
                client.generate(PROMPT, deadline_s=30.0, max_tokens=8),  # interactive: 8 s
                client.generate(PROMPT, priority="low", max_tokens=8, stream=False),  # batch work
                client.generate(PROMPT, model="batch_ensemble", max_tokens=8),  # fixed model
            )

    results = asyncio.run(run())
    time.sleep(0.3)  # the statistics count a request once it is released

    assert [r.sla for r in results] == ["realtime", "interactive", "interactive", "batch", "batch"]
    assert [r.triton_priority for r in results] == [2, 1, 2, 0, 0]
    assert results[0].timeout_us == 2_000_000  # 5 s deadline clamped to realtime's ceiling
    assert results[2].timeout_us == 10_000_000 and results[3].timeout_us is None
    whole = results[3]
    assert len(whole.chunks) == 1 and not whole.streamed
    assert 0 < whole.output_tokens <= 8  # reported by the model
    delta = {model: inference_count(address, model) - before[model] for model in models}
    assert delta == {
        "realtime_tensorrt_llm_bls": 1,
        "interactive_tensorrt_llm_bls": 2,
        "batch_tensorrt_llm_bls": 1,
        "batch_ensemble": 1,
    }


def test_output_tokens_are_exactly_what_the_engine_generated(cpu_server):
    # Every target and mode of one class, sync and async, with and without min_tokens: the
    # answers' output_tokens add up to what the class's engine counted for them.
    before = settled_tokens(cpu_server, "interactive")
    requests = [
        {"model": model, "stream": stream, "max_tokens": tokens, "min_tokens": low}
        for model in ("interactive_tensorrt_llm_bls", "interactive_ensemble")
        for stream in (True, False)
        for tokens, low in ((24, 24), (40, None))
    ]

    async def run() -> list[GenerationResult]:
        async with AsyncSlaClient.from_deployment(
            cpu_server.deployment, replicas=[replica(cpu_server)]
        ) as client:
            return await asyncio.gather(*(client.generate(PROMPT, **kw) for kw in requests))

    results = asyncio.run(run())
    with client_of(cpu_server) as client:
        results += [client.generate(PROMPT, **kw) for kw in requests]
    after = settled_tokens(cpu_server, "interactive")

    counted = [r.output_tokens for r in results]
    print(f"output_tokens {counted}; engine generated {after - before:.0f}")
    assert sum(counted) == after - before
    exact = [r for r, kw in zip(results, requests * 2, strict=True) if kw["min_tokens"]]
    assert [r.output_tokens for r in exact] == [24] * len(exact)  # min_tokens = max_tokens
    streamed_bls = [r for r in results if r.streamed and r.model == "interactive_tensorrt_llm_bls"]
    assert all(len(r.chunks) <= r.output_tokens for r in streamed_bls)


def test_one_sync_client_serves_many_threads(cpu_server):
    with client_of(cpu_server) as client, ThreadPoolExecutor(max_workers=8) as pool:
        slas = ["realtime", "interactive", "batch"] * 4
        results = list(pool.map(lambda sla: client.generate(PROMPT, sla=sla, max_tokens=8), slas))
    assert [r.sla for r in results] == slas
    assert all(r.ok and r.chunks for r in results)
    assert len({r.request_id for r in results}) == len(slas)


def test_unmeetable_deadline_is_rejected_before_the_engine(cpu_server):
    address = cpu_server.endpoints.grpc_address
    watched = ("realtime_tensorrt_llm_bls", "realtime_preprocessing", "realtime_tensorrt_llm")
    with client_of(cpu_server) as client:
        for _ in range(3):  # the client learns realtime's typical latency
            client.generate(PROMPT, sla="realtime", max_tokens=16)
        time.sleep(0.3)
        before = {model: inference_count(address, model) for model in watched}

        with pytest.raises(DeadlineUnmeetableError, match="the request was not sent") as caught:
            client.generate(PROMPT, sla="realtime", max_tokens=16, deadline_s=0.0005)

        assert caught.value.estimate_ms > caught.value.deadline_ms == 0.5
        assert caught.value.result is None  # no attempt was made
        time.sleep(0.3)
        assert {model: inference_count(address, model) for model in watched} == before


def test_realtime_keeps_its_slo_while_batch_is_saturated(cpu_server):
    slo = cpu_server.deployment.profiles["realtime"].slo
    batch_size = cpu_server.deployment.profiles["batch"].batching.max_batch_size
    workers = batch_size + batch_size // 2  # more in flight than the batch endpoint can batch

    async def realtime(client: AsyncSlaClient, count: int) -> tuple[list[float], list[float]]:
        ttft: list[float] = []
        itl: list[float] = []
        for _ in range(count):
            result = await client.generate(PROMPT, sla="realtime", max_tokens=16)
            ttft.append(result.ttft_s * 1000)
            itl.extend(gap * 1000 for gap in result.itl_s)
        return ttft, itl

    async def run() -> tuple[list[float], list[float], float, float]:
        async with AsyncSlaClient.from_deployment(
            cpu_server.deployment, replicas=[replica(cpu_server)]
        ) as client:
            stop = asyncio.Event()
            batch_endpoint = client.router.table.endpoint("batch")
            server = batch_endpoint.replicas[0]

            async def batch_worker() -> None:
                while not stop.is_set():
                    await client.generate(
                        PROMPT * 8, sla="batch", max_tokens=128, stream=False, timeout=120
                    )

            tasks = [asyncio.create_task(batch_worker()) for _ in range(workers)]
            try:
                await asyncio.sleep(1.0)
                ttft, itl = await realtime(client, 20)
                outstanding = client.router.load.outstanding(server, batch_endpoint)
                pending = client.router.load.load(server, batch_endpoint).pending
            finally:
                stop.set()
                await asyncio.gather(*tasks)
            return ttft, itl, outstanding, pending

    ttft, itl, outstanding, pending = asyncio.run(run())
    print(
        f"realtime under batch saturation: TTFT p95 {p95(ttft):.1f} ms (SLO {slo.ttft_ms}), "
        f"ITL p95 {p95(itl):.1f} ms (SLO {slo.itl_ms}); batch in flight {outstanding}, "
        f"batch pending on the server {pending}"
    )
    assert outstanding > batch_size  # the batch endpoint had more work than it could batch
    assert p95(ttft) <= slo.ttft_ms
    assert p95(itl) <= slo.itl_ms


def test_first_token_timeout_is_typed_and_the_client_stays_usable(cpu_server):
    with client_of(cpu_server) as client:
        with pytest.raises(FirstTokenTimeoutError, match="first_token timeout") as caught:
            client.generate(
                PROMPT, sla="realtime", max_tokens=64, timeout=Timeout(10, first_token=1e-6)
            )
        assert caught.value.result.chunks == ()
        assert client.generate(PROMPT, sla="realtime", max_tokens=4).ok


def test_cli_generate_streams_the_answer(cpu_server, capsys):
    import argparse

    from rich.console import Console

    from tritonsla.cli import generate_cmd

    parser = argparse.ArgumentParser(prog="tritonsla")
    generate_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "generate",
            "--deploy",
            str(CPU_DEPLOY),
            "--sla",
            "realtime",
            "--max-tokens",
            "8",
            "--url",
            cpu_server.endpoints.grpc_address,
            PROMPT,
        ]
    )
    assert args.handler(args, Console(force_terminal=False)) == 0
    out, err = capsys.readouterr()
    assert out.strip() != ""
    assert f"realtime_tensorrt_llm_bls on {cpu_server.endpoints.grpc_address}: TTFT" in err
    assert "tokens/s" in err


def test_full_queue_answers_are_typed_rejections(serve, tmp_path):
    served = fork_safe(lambda: serve(deploy=realtime_only_deploy(tmp_path / "deploy")))
    queue = served.deployment.profiles["realtime"].queue
    burst = 4 * queue.max_queue_size

    async def run() -> list[GenerationResult | RequestError]:
        async with AsyncSlaClient.from_deployment(
            served.deployment, replicas=[replica(served)]
        ) as client:

            async def one() -> GenerationResult | RequestError:
                try:
                    return await client.generate(PROMPT, max_tokens=300)
                except RequestError as error:
                    return error

            return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(burst))), 60)

    outcomes = asyncio.run(run())
    rejected = [o for o in outcomes if isinstance(o, ServerRejectedError)]
    served_ok = [o for o in outcomes if isinstance(o, GenerationResult)]
    assert len(rejected) + len(served_ok) == burst
    assert rejected and served_ok
    # the class's queue policy refusing: full at Triton's queue ("Exceeds maximum queue size"),
    # queued past its timeout ("Request timeout expired", action REJECT), or, when a request
    # slipped past Triton's queue, full at the engine's own waiting queue ("max_queue_size N")
    full = ("Exceeds maximum queue size", "Request timeout expired", "max_queue_size")
    assert all(any(words in str(error) for words in full) for error in rejected), rejected
    attempts = [error.result.attempts for error in rejected]
    assert all(n == 1 for n in attempts), attempts  # no other replica to try
    hard_stop(served.server)


# --- cancellation --------------------------------------------------------------------------------
def test_cancelled_generate_calls_are_stopped_at_the_engine(serve, tmp_path):
    # generate() requests share one gRPC stream, which Triton cannot cancel request by request:
    # a cancelled one is stopped at its engine (TensorRT-LLM's `stop`), the running ones at
    # once, the queued ones (6 requests, batch 4) once the engine takes them. Answers of 960
    # tokens take this engine well over a second, so without stops all 6 x 960 would be made.
    overrides = {"realtime": {"engine": {"max_seq_len": 1024, "max_input_len": 256}}}
    deploy = variant_deploy(tmp_path / "deploy", ["realtime"], overrides)
    served = fork_safe(lambda: serve(deploy=deploy))
    count, tokens, model = 6, 960, "realtime_tensorrt_llm"
    before = settled_tokens(served, "realtime")

    def engine_busy() -> bool:
        # as the router reads it: TensorRT-LLM's nv_trt_llm_request_metrics{request_type=active}
        deadline = time.monotonic() + 30
        while (fetch_metrics(served.endpoints.metrics_url, 10)[model].engine or 0) < 4:
            assert time.monotonic() < deadline, "the engine never took the requests"
            time.sleep(0.02)
        return True

    async def run() -> tuple[float, GenerationResult]:
        async with AsyncSlaClient.from_deployment(
            served.deployment, replicas=[replica(served)]
        ) as client:
            targets = [{"sla": "realtime"}] * (count - 1) + [{"model": "realtime_ensemble"}]
            calls = [
                asyncio.create_task(
                    client.generate(PROMPT, max_tokens=tokens, stream=i % 2 == 0, **target)
                )
                for i, target in enumerate(targets)
            ]
            await asyncio.to_thread(engine_busy)
            for call in calls:
                call.cancel()
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
            generated = await asyncio.to_thread(settled_tokens, served, "realtime")
            return generated, await client.generate(PROMPT, sla="realtime", max_tokens=8)

    generated, after = asyncio.run(run())
    print(f"{generated - before:.0f} tokens generated for {count} cancelled {tokens}-token calls")
    assert generated - before < count * tokens / 2
    assert after.ok and after.output_tokens


# --- cancellation (server log) -------------------------------------------------------------------
CANCELLED = "Issuing cancellation"


def wait_for_log(log: Path, start: int, text: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace")[start:]:
            return True
        time.sleep(0.05)
    return False


def test_streams_closed_early_are_stopped_without_cancelling_the_call(tmp_path):
    # A stream closed (sync) or a task cancelled (async) before the end is stopped at its
    # engine (TensorRT-LLM's `stop`, test_faults.py counts the tokens) on its own gRPC stream,
    # which then ends by a half-close: Triton sees no cancellation, which would leave the BLS
    # of Triton 2.51 counting a request and never unloading.
    result = render(realtime_only_deploy(tmp_path), tmp_path / "repo")
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(
        model_repository=tmp_path / "repo",
        http_port=http,
        grpc_port=grpc,
        metrics_port=metrics,
        log_verbose=1,
    )
    log = tmp_path / "tritonserver.log"
    with running(TritonServer(options, log_file=log, startup_timeout=180)) as server:
        address = server.endpoints.grpc_address
        mark = len(log.read_text(errors="replace"))
        with SlaClient.from_deployment(result.deployment, replicas=[address]) as client:
            with client.stream(PROMPT, sla="realtime", max_tokens=400) as chunks:
                for index, _ in enumerate(chunks):
                    if index == 2:
                        break
            assert client.generate(PROMPT, max_tokens=8).ok  # the connection is reused

        async def run() -> int:
            async with AsyncSlaClient.from_deployment(
                result.deployment, replicas=[address]
            ) as aclient:
                assert (await aclient.generate(PROMPT, max_tokens=8)).ok
                received: list[str] = []

                async def consume() -> None:
                    async with aclient.stream(PROMPT, sla="realtime", max_tokens=400) as stream:
                        async for chunk in stream:
                            received.append(chunk.text)

                task = asyncio.create_task(consume())
                while len(received) < 3 and not task.done():
                    await asyncio.sleep(0.001)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return len(received)

        assert asyncio.run(run()) >= 3
        assert not wait_for_log(log, mark, CANCELLED, timeout=1.0)
        hard_stop(server)


# --- replicas ------------------------------------------------------------------------------------
def test_traffic_spreads_over_two_replicas(serve, tmp_path):
    deploy = realtime_only_deploy(tmp_path / "deploy")
    first, second = (fork_safe(lambda: serve(deploy=deploy)) for _ in range(2))
    model = "realtime_tensorrt_llm_bls"
    addresses = [first.endpoints.grpc_address, second.endpoints.grpc_address]
    # the first replica's load comes from its metrics, the second's from the statistics API
    replicas = [replica(first), addresses[1]]
    with SlaClient.from_deployment(first.deployment, replicas=replicas) as client:
        results = [client.generate(PROMPT, max_tokens=8) for _ in range(12)]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
            client.router.load.last_poll(address) for address in addresses
        ):
            time.sleep(0.05)
        polled = [client.router.load.last_poll(address) for address in addresses]

    assert {r.replica for r in results} == set(addresses)
    assert all(r.ok and r.sla == "realtime" for r in results)
    assert all(polled)
    time.sleep(0.3)
    counts = [inference_count(address, model) for address in addresses]
    assert sum(counts) == 12 and min(counts) >= 3


def test_killing_a_replica_mid_run_fails_over_or_fails_typed(serve, tmp_path):
    deploy = realtime_only_deploy(tmp_path / "deploy")
    survivor, victim = (fork_safe(lambda: serve(deploy=deploy)) for _ in range(2))
    total, concurrency = 40, 6

    async def run() -> tuple[list[GenerationResult | RequestError], int]:
        async with AsyncSlaClient.from_deployment(
            survivor.deployment,
            replicas=[replica(survivor), replica(victim)],
            timeout=Timeout(20.0, connect=2.0),
        ) as client:
            slots = asyncio.Semaphore(concurrency)
            finished = 0
            killed = asyncio.Event()

            async def one(index: int) -> GenerationResult | RequestError:
                nonlocal finished
                async with slots:
                    try:
                        return await client.generate(PROMPT, max_tokens=48, stream=index % 2 == 0)
                    except RequestError as error:
                        return error
                    finally:
                        finished += 1
                        if finished == total // 4 and not killed.is_set():
                            os.killpg(victim.server.pid, signal.SIGKILL)
                            killed.set()

            outcomes = await asyncio.wait_for(
                asyncio.gather(*(one(i) for i in range(total))), timeout=90
            )
            down = not client.router.health.is_up(victim.endpoints.grpc_address)
            return outcomes, down

    outcomes, victim_down = asyncio.run(run())
    errors = [o for o in outcomes if isinstance(o, RequestError)]
    print(f"{total - len(errors)} ok, errors: {[type(e).__name__ for e in errors]}")
    assert all(isinstance(o, GenerationResult | RequestError) for o in outcomes)  # none hung
    for error in errors:  # only streams that had delivered chunks may fail, and typed
        assert isinstance(error, StreamBrokenError) and error.chunks
        assert error.result is not None and error.result.chunks == error.chunks
    whole = [o for index, o in enumerate(outcomes) if index % 2 == 1]
    assert all(isinstance(o, GenerationResult) and o.ok for o in whole)  # failed over
    assert victim_down
    late = outcomes[total // 2 :]  # sent after the kill
    assert all(
        isinstance(o, GenerationResult) and o.replica == survivor.endpoints.grpc_address
        for o in late
    )


def test_sync_requests_fail_over_when_a_replica_refuses(serve, tmp_path):
    deploy = realtime_only_deploy(tmp_path / "deploy")
    survivor, victim = (fork_safe(lambda: serve(deploy=deploy)) for _ in range(2))
    with client_of(victim, survivor) as client:
        assert client.generate(PROMPT, max_tokens=4).ok
        hard_stop(victim.server)  # the port now refuses connections
        results = [client.generate(PROMPT, max_tokens=4, stream=False) for _ in range(4)]

    assert all(r.ok and r.replica == survivor.endpoints.grpc_address for r in results)
    assert max(r.attempts for r in results) <= 2
