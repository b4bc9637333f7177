"""Faults injected into real tritonservers, and what the SDK makes of them.

Replica frozen (SIGSTOP) then thawed (SIGCONT); replica killed (SIGKILL) mid-stream; a full
queue; two requests sharing an id; cancellation and timeouts on every client, target and call.
Each test prints its tally: requests sent, succeeded, failed by type, and waited out (a timeout
elapsed). Servers are realtime- or interactive-only variants of deploy/cpu.yaml (they start in
seconds) and are always stopped, thawed first.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tests.integration.conftest import ServedDeployment, variant_deploy
from tests.integration.test_routing import fork_safe, hard_stop, realtime_only_deploy, replica
from tritonsla.routing import (
    AsyncSlaClient,
    GenerationResult,
    Replica,
    RequestError,
    RequestTimeoutError,
    ServerRejectedError,
    SlaClient,
    StreamBrokenError,
    Timeout,
)

pytestmark = pytest.mark.integration

PROMPT = "Once upon a time"


Outcome = GenerationResult | RequestError | None
"""What one request came to: an answer, a typed failure, or None: the caller ended it (a stream
closed early, a task cancelled)."""


@dataclass
class Tally:
    """Outcomes of a run: successes, failures by type, ended by the caller; `waited` = the
    failures whose timeout elapsed."""

    name: str
    results: list[GenerationResult] = field(default_factory=list)
    errors: list[RequestError] = field(default_factory=list)
    cancelled: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome is None:
            self.cancelled += 1
        elif isinstance(outcome, RequestError):
            self.errors.append(outcome)
        else:
            self.results.append(outcome)

    @property
    def waited(self) -> list[RequestError]:
        return [e for e in self.errors if isinstance(e, RequestTimeoutError)]

    def report(self) -> str:
        failed = dict(Counter(type(error).__name__ for error in self.errors))
        sent = len(self.results) + len(self.errors) + self.cancelled
        line = (
            f"{self.name}: sent {sent}, succeeded {len(self.results)}, failed {failed}, "
            f"cancelled {self.cancelled}, waited out {len(self.waited)}"
        )
        print(line)
        return line


def attempt(send: Callable[[], GenerationResult]) -> GenerationResult | RequestError:
    try:
        return send()
    except RequestError as error:
        return error


async def attempt_async(send: Callable) -> GenerationResult | RequestError:
    try:
        return await send()
    except RequestError as error:
        return error


@contextmanager
def frozen(served: ServedDeployment) -> Iterator[None]:
    """The server's process group stopped (SIGSTOP) for the block, always thawed (SIGCONT)."""
    os.killpg(served.server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(served.server.pid, signal.SIGCONT)


def engine_tokens(served: ServedDeployment, sla: str) -> float:
    """Tokens the engine of `sla` generated, from `tritonsla_engine_generated_tokens_total`
    (a counter) or, on engines that still publish it, the gauge without `_total`."""
    text = urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()
    model = f"{sla}_tensorrt_llm"
    found = re.search(
        rf'^tritonsla_engine_generated_tokens(?:_total)?\{{model="{model}",[^}}]*\}} (\S+)$',
        text,
        re.M,
    )
    assert found, f"no tritonsla_engine_generated_tokens(_total) for {model}"
    return float(found.group(1))


def settled_tokens(served: ServedDeployment, sla: str, timeout: float = 30.0) -> float:
    """The engine's generated tokens once they stop changing (three equal reads 0.3 s apart)."""
    deadline = time.monotonic() + timeout
    reads: list[float] = []
    while time.monotonic() < deadline:
        reads = [*reads[-2:], engine_tokens(served, sla)]
        if len(reads) == 3 and reads[0] == reads[2]:
            return reads[2]
        time.sleep(0.3)
    raise AssertionError(f"the {sla} engine did not settle within {timeout} s")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.05)


# --- a frozen replica: suspect, down until a probe answers, back after SIGCONT -------------------
class FrozenRun:
    """Requests at concurrency while a replica is frozen, until AFTER more were sent once the
    first timeout elapsed (at most LIMIT in all); thread-safe."""

    AFTER, LIMIT = 24, 1000

    def __init__(self, name: str) -> None:
        self.name = name
        self.timed: list[tuple[float, float, Outcome]] = []
        self.first_timeout: float | None = None
        self._sent = self._after = 0
        self._lock = threading.Lock()

    def go(self) -> bool:
        """Whether to send one more request (counted as sent)."""
        with self._lock:
            if self._after >= self.AFTER or self._sent >= self.LIMIT:
                return False
            self._sent += 1
            self._after += self.first_timeout is not None
            return True

    def record(self, sent: float, outcome: Outcome) -> None:
        ended = time.monotonic()
        with self._lock:
            self.timed.append((sent, ended, outcome))
            if isinstance(outcome, RequestTimeoutError) and self.first_timeout is None:
                self.first_timeout = ended

    def check(self) -> Tally:
        """Tally it; at most one request sent after the first timeout may wait on the frozen
        replica too: wait out a timeout, or fail over from it (a connect or keepalive timeout)."""
        tally = Tally(self.name)
        for _, _, outcome in self.timed:
            tally.add(outcome)
        tally.report()
        first = self.first_timeout
        assert first is not None, "no request reached the frozen replica"
        failed_over = [o for o in tally.results if o.attempts > 1]
        late = [
            o
            for sent, _, o in self.timed
            if sent > first and (o in tally.waited or o in failed_over)
        ]
        print(
            f"{self.name}: {len(failed_over)} failed over; {len(late)} request(s) sent after "
            "the first timeout waited on the frozen replica"
        )
        assert len(late) <= 1
        where = Counter(
            f"{type(e).__name__} at {e.result.replica if e.result else 'no replica'}"
            for e in tally.errors
        )
        # the survivor timing out or rejecting too means it stalled as well
        assert all(isinstance(e, RequestTimeoutError) for e in tally.errors), dict(where)
        return tally


def serves_again(
    send: Callable[[], list[GenerationResult]], address: str, rounds: int = 10
) -> list[GenerationResult]:
    """Rounds of `send()` until `address` served one (its old connections may fail over)."""
    results: list[GenerationResult] = []
    for _ in range(rounds):
        results += send()
        if address in {r.replica for r in results}:
            return results
    raise AssertionError(f"{address} served none of {len(results)} requests")


def test_a_frozen_replica_is_held_out_and_serves_again_once_thawed(serve, tmp_path):
    deploy = realtime_only_deploy(tmp_path / "deploy")
    survivor, victim = (fork_safe(lambda: serve(deploy=deploy)) for _ in range(2))
    # addresses only: no pending counts from metrics, so the frozen replica's stale load does
    # not keep traffic away; once its requests time out it has the fewest outstanding
    replicas = [Replica(survivor.endpoints.grpc_address), Replica(victim.endpoints.grpc_address)]
    victim_address = victim.endpoints.grpc_address
    concurrency, timeout = 8, Timeout(4.0)

    with SlaClient.from_deployment(survivor.deployment, replicas=replicas) as client:
        run = FrozenRun("sync, one of two replicas frozen")

        def worker(_: int) -> None:
            while run.go():
                sent = time.monotonic()
                run.record(
                    sent, attempt(lambda: client.generate(PROMPT, max_tokens=8, timeout=timeout))
                )

        with ThreadPoolExecutor(concurrency) as pool:  # both replicas warm
            warm = list(pool.map(lambda _: client.generate(PROMPT, max_tokens=8), range(8)))
            assert {r.replica for r in warm} == {r.address for r in replicas}
            with frozen(victim):
                list(pool.map(worker, range(concurrency)))
                assert not client.router.health.is_up(victim_address)
            run.check()
            wait_until(lambda: client.router.health.is_up(victim_address), 30, "the probe")
            thawed = serves_again(
                lambda: list(pool.map(lambda _: client.generate(PROMPT, max_tokens=8), range(8))),
                victim_address,
            )
    print(f"sync, thawed: {len(thawed)} requests until the thawed replica served again")

    async def async_run() -> FrozenRun:
        async with AsyncSlaClient.from_deployment(
            survivor.deployment, replicas=replicas
        ) as aclient:
            run = FrozenRun("async, one of two replicas frozen")

            async def worker_async() -> None:
                while run.go():
                    sent = time.monotonic()
                    outcome = await attempt_async(
                        lambda: aclient.generate(PROMPT, max_tokens=8, timeout=timeout)
                    )
                    run.record(sent, outcome)

            warm = await asyncio.gather(*(aclient.generate(PROMPT) for _ in range(8)))
            assert {r.replica for r in warm} == {r.address for r in replicas}
            with frozen(victim):
                await asyncio.gather(*(worker_async() for _ in range(concurrency)))
                assert not aclient.router.health.is_up(victim_address)
            await asyncio.to_thread(
                wait_until, lambda: aclient.router.health.is_up(victim_address), 30, "the probe"
            )
            again: list[GenerationResult] = []
            for _ in range(10):  # connections to it were retired: the first may fail over
                again += await asyncio.gather(
                    *(aclient.generate(PROMPT, max_tokens=8) for _ in range(8))
                )
                if victim_address in {r.replica for r in again}:
                    break
            assert victim_address in {r.replica for r in again}  # back in rotation
            print(f"async, thawed: {len(again)} requests until the thawed replica served again")
            return run

    asyncio.run(async_run()).check()
    hard_stop(victim.server)  # it has requests it never answered: do not wait for them
    hard_stop(survivor.server)


# --- a replica killed mid-stream ------------------------------------------------------------------
def test_a_replica_killed_mid_stream_breaks_only_streams_that_had_chunks(serve, tmp_path):
    deploy = realtime_only_deploy(tmp_path / "deploy")
    survivor, victim = (fork_safe(lambda: serve(deploy=deploy)) for _ in range(2))
    total, concurrency = 24, 6
    tally = Tally("sync, a replica killed mid-stream")
    finished = 0

    with SlaClient.from_deployment(
        survivor.deployment,
        replicas=[replica(survivor), replica(victim)],
        timeout=Timeout(20.0, connect=2.0),
    ) as client:

        def one(index: int) -> GenerationResult | RequestError:
            nonlocal finished
            outcome = attempt(lambda: client.generate(PROMPT, max_tokens=48, stream=index % 2 == 0))
            finished += 1
            if finished == total // 4:
                os.killpg(victim.server.pid, signal.SIGKILL)
            return outcome

        with ThreadPoolExecutor(concurrency) as pool:
            outcomes = list(pool.map(one, range(total)))
        victim_down = not client.router.health.is_up(victim.endpoints.grpc_address)

    for outcome in outcomes:
        tally.add(outcome)
    tally.report()
    for error in tally.errors:  # only streams that had delivered chunks may fail, and typed
        assert isinstance(error, StreamBrokenError) and error.chunks
    assert all(isinstance(o, GenerationResult) for o in outcomes[1::2])  # whole: failed over
    assert victim_down
    victim.server.stop()  # reaps the killed server


# --- a full queue ---------------------------------------------------------------------------------
def test_a_full_queue_answers_typed_rejections_on_the_sync_client(serve, tmp_path):
    served = fork_safe(lambda: serve(deploy=realtime_only_deploy(tmp_path / "deploy")))
    burst = 4 * served.deployment.profiles["realtime"].queue.max_queue_size
    tally = Tally("sync, burst of 4x the realtime queue")
    with (
        SlaClient.from_deployment(served.deployment, replicas=[replica(served)]) as client,
        ThreadPoolExecutor(burst) as pool,
    ):
        for outcome in pool.map(
            lambda _: attempt(lambda: client.generate(PROMPT, max_tokens=300)), range(burst)
        ):
            tally.add(outcome)
    tally.report()
    assert tally.results and tally.errors and not tally.waited
    assert all(isinstance(e, ServerRejectedError) for e in tally.errors)
    # full: Triton's queue ("Exceeds maximum queue size") or the engine's waiting queue; a
    # request that waited past realtime's 2 s queue timeout is rejected too ("timeout expired")
    reasons = Counter(
        "full" if re.search(r"max(imum)?[ _]queue[ _]size", str(e)) else str(e)
        for e in tally.errors
    )
    print(f"rejections: {dict(reasons)}")
    assert reasons["full"] and all(r == "full" or "timeout expired" in r for r in reasons)
    hard_stop(served.server)


# --- two requests with one id ---------------------------------------------------------------------
def test_requests_that_share_an_id_each_get_their_own_answer(serve, tmp_path):
    served = fork_safe(lambda: serve(deploy=realtime_only_deploy(tmp_path / "deploy")))
    prompts = ["Once upon a time", "The weather today", "In a galaxy far away", "Hello there"]
    tally = Tally("requests sharing the id 'shared'")
    with SlaClient.from_deployment(served.deployment, replicas=[replica(served)]) as client:
        expected = [client.generate(p, max_tokens=16, min_tokens=16).text for p in prompts]
        with ThreadPoolExecutor(len(prompts)) as pool:
            sync = list(
                pool.map(
                    lambda p: client.generate(p, max_tokens=16, min_tokens=16, request_id="shared"),
                    prompts,
                )
            )

    async def run() -> list[GenerationResult]:
        async with AsyncSlaClient.from_deployment(
            served.deployment, replicas=[replica(served)]
        ) as aclient:
            return await asyncio.gather(
                *(
                    aclient.generate(p, max_tokens=16, min_tokens=16, request_id="shared")
                    for p in prompts
                )
            )

    answers = sync + asyncio.run(run())
    for answer in answers:
        tally.add(answer)
    tally.report()
    assert [a.text for a in answers] == expected * 2
    assert all(a.request_id == "shared" for a in answers)


# --- cancellation and timeouts on every client, target and call -----------------------------------
REQUESTS, TOKENS = 4, 960


@pytest.fixture(scope="module")
def long_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDeployment]:
    """An interactive-only server whose answers of TOKENS tokens take seconds."""
    from tests.integration.conftest import serve_deployment

    folder = tmp_path_factory.mktemp("long-answers")
    overrides = {"interactive": {"engine": {"max_seq_len": 1024, "max_input_len": 256}}}
    deploy = variant_deploy(folder / "deploy", ["interactive"], overrides)
    with serve_deployment(folder, deploy) as served:
        yield served
        hard_stop(served.server)


def sync_cancel(client: SlaClient, how: str, api: str, stream: bool) -> Outcome:
    """One sync request ended early: by a 0.4 s timeout, or closed after its first chunk."""
    options = {"max_tokens": TOKENS, "min_tokens": TOKENS, "stream": stream}
    if how == "cancel":
        with client.stream(PROMPT, **options) as chunks:
            next(iter(chunks))
        return None
    if api == "generate":
        return attempt(lambda: client.generate(PROMPT, timeout=0.4, **options))

    def read() -> GenerationResult:
        with client.stream(PROMPT, timeout=0.4, **options) as chunks:
            for _ in chunks:
                pass
        return chunks.result

    return attempt(read)


async def async_cancel(client: AsyncSlaClient, how: str, api: str, stream: bool) -> Outcome:
    """One async request ended early: by a 0.4 s timeout, or its task cancelled."""
    options = {"max_tokens": TOKENS, "min_tokens": TOKENS, "stream": stream}
    timeout = 0.4 if how == "timeout" else 60.0

    async def run() -> GenerationResult:
        if api == "generate":
            return await client.generate(PROMPT, timeout=timeout, **options)
        async with client.stream(PROMPT, timeout=timeout, **options) as chunks:
            async for _ in chunks:
                pass
        return chunks.result

    task = asyncio.create_task(attempt_async(run))
    if how == "timeout":
        return await task
    await asyncio.sleep(0.4)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


CASES = [
    (kind, target, how, api, stream)
    for kind in ("sync", "async")
    for target in ("ensemble", "bls")
    for how, api, stream in (
        ("timeout", "generate", False),
        ("timeout", "generate", True),
        ("timeout", "stream", True),
        ("cancel", "stream", True),
        ("cancel", "generate", False),
    )
    if not (kind == "sync" and how == "cancel" and api == "generate")  # sync: close a stream
]


@pytest.mark.parametrize(("kind", "target", "how", "api", "stream"), CASES)
def test_ended_requests_are_stopped_at_the_engine(long_answers, kind, target, how, api, stream):
    served = long_answers
    before = settled_tokens(served, "interactive")
    name = f"{kind} {api}(stream={stream}) via {target}, {how}"
    tally = Tally(name)
    if kind == "sync":
        with (
            SlaClient.from_deployment(
                served.deployment, replicas=[replica(served)], target=target
            ) as client,
            ThreadPoolExecutor(REQUESTS) as pool,
        ):
            outcomes = list(
                pool.map(lambda _: sync_cancel(client, how, api, stream), range(REQUESTS))
            )
    else:

        async def run() -> list[Outcome]:
            async with AsyncSlaClient.from_deployment(
                served.deployment, replicas=[replica(served)], target=target
            ) as client:
                return await asyncio.gather(
                    *(async_cancel(client, how, api, stream) for _ in range(REQUESTS))
                )

        outcomes = asyncio.run(run())
    generated = settled_tokens(served, "interactive") - before
    for outcome in outcomes:
        tally.add(outcome)
    tally.report()
    print(f"{name}: the engine generated {generated:.0f} of {REQUESTS * TOKENS} tokens")
    assert not tally.results and (tally.cancelled or len(tally.waited) == REQUESTS)
    assert generated < REQUESTS * TOKENS / 2
