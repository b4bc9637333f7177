"""`AsyncSlaClient`: the asyncio client (twin of `tritonsla.routing.client.SlaClient`).

    async with AsyncSlaClient.from_deploy("deploy/cpu.yaml") as client:
        result = await client.generate("Hello", sla="realtime", max_tokens=16)
        async with client.stream("Hello", deadline_s=2.0) as chunks:
            async for chunk in chunks:
                print(chunk.text, end="")

One gRPC channel per replica. `generate` requests share one long-lived stream per replica
(`tritonsla.routing.streams`): no stream setup per request and no wake-up per chunk, which is
what lets a load generator keep up with a fast server. `stream` requests, read chunk by chunk and
often closed early, each get their own gRPC stream. Either way a request ended early (its task
cancelled, its timeout, its stream closed) is stopped at its engine with TensorRT-LLM's `stop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from types import TracebackType

from typing_extensions import Unpack

from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.call import Call, CallOptions, failed, make_call
from tritonsla.routing.errors import (
    ReplicaUnavailableError,
    RequestError,
    ServerRejectedError,
    TotalTimeoutError,
)
from tritonsla.routing.monitor import DEFAULT_INTERVAL_S, Monitor, run_monitor
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import build_request
from tritonsla.routing.result import Chunk, GenerationResult, Recorder
from tritonsla.routing.router import Router
from tritonsla.routing.streams import Connection, Exchange
from tritonsla.routing.table import EndpointTable, Replica, Target
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout
from tritonsla.routing.transport import open_channel


class _Connections:
    """One Connection per replica, opened on first use.

    A failed replica's connection is retired: closed in the background once the requests still
    on it have ended (closing a channel at once would cancel them, and they must end with their
    own typed errors).
    """

    def __init__(self) -> None:
        self._open: dict[str, Connection] = {}
        self._retiring: set[asyncio.Task] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def ready(self, address: str) -> Connection | None:
        """The open connection of `address`, if any (no await on the hot path)."""
        return self._open.get(address)

    async def get(self, address: str, connect_timeout: float) -> Connection:
        """The connection of `address`, opened (readiness checked) when there is none."""
        async with self._locks.setdefault(address, asyncio.Lock()):
            connection = self._open.get(address)
            if connection is None:
                channel = await open_channel(address, connect_timeout)
                connection = self._open[address] = Connection(channel, address)
            return connection

    def retire(self, address: str) -> None:
        connection = self._open.pop(address, None)
        if connection is not None:
            task = asyncio.get_running_loop().create_task(
                connection.retire(), name=f"tritonsla-retire-{address}"
            )
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        connections = list(self._open.values())
        self._open.clear()
        for connection in connections:
            await connection.close()
        await asyncio.gather(*self._retiring, return_exceptions=True)


class AsyncSlaClient:
    """Routes each request to its SLA class's endpoint and streams the answer back (asyncio)."""

    def __init__(
        self,
        table: EndpointTable,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        default_sla: str | None = None,
        batch_sla: str | None = None,
        poll_interval: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.router = Router(table, default_sla=default_sla, batch_sla=batch_sla)
        self.timeout = timeout
        self._connections = _Connections()
        self._monitor = Monitor(self.router, poll_interval, on_gone=self._replica_gone)
        self._monitor_task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._revival: asyncio.Future[bool] | None = None

    @classmethod
    def from_deploy(
        cls,
        deploy: str | Path,
        sets: list[str] | None = None,
        *,
        target: Target = "bls",
        replicas: list[Replica | str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        default_sla: str | None = None,
        batch_sla: str | None = None,
        poll_interval: float = DEFAULT_INTERVAL_S,
    ) -> AsyncSlaClient:
        """A client of the deploy file's endpoints (`sets` as `--set`; `replicas` overrides)."""
        return cls.from_deployment(
            load_deployment(Path(deploy), sets),
            target=target,
            replicas=replicas,
            timeout=timeout,
            default_sla=default_sla,
            batch_sla=batch_sla,
            poll_interval=poll_interval,
        )

    @classmethod
    def from_deployment(
        cls,
        deployment: Deployment,
        *,
        target: Target = "bls",
        replicas: list[Replica | str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        default_sla: str | None = None,
        batch_sla: str | None = None,
        poll_interval: float = DEFAULT_INTERVAL_S,
    ) -> AsyncSlaClient:
        """A client of a loaded Deployment's endpoints."""
        table = EndpointTable.from_deployment(deployment, target=target, replicas=replicas)
        return cls(
            table,
            timeout=timeout,
            default_sla=default_sla,
            batch_sla=batch_sla,
            poll_interval=poll_interval,
        )

    async def generate(self, prompt: str, **options: Unpack[CallOptions]) -> GenerationResult:
        """Send `prompt` and wait for the whole answer; raises a RequestError on failure."""
        self._start_monitor()
        call = make_call(prompt, self.timeout, **options)
        answer = AsyncTokenStream(self, call, incremental=False)
        async for _ in answer:  # yields nothing: the chunks are in the result
            pass
        return answer.result

    def stream(self, prompt: str, **options: Unpack[CallOptions]) -> AsyncTokenStream:
        """Send `prompt`; iterate the returned AsyncTokenStream for chunks as they arrive."""
        self._start_monitor()
        return AsyncTokenStream(self, make_call(prompt, self.timeout, **options))

    def _start_monitor(self) -> None:
        if self._monitor_task is None:
            self._loop = asyncio.get_running_loop()
            self._monitor_task = self._loop.create_task(
                run_monitor(self._monitor), name="tritonsla-monitor"
            )

    def _replica_gone(self, address: str) -> None:
        """Discovery dropped `address` (called from the monitor's thread): retire its
        connection once the requests still on it end."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connections.retire, address)

    async def aclose(self) -> None:
        """Stop the background monitor and close every connection."""
        task, self._monitor_task = self._monitor_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._connections.close()

    async def __aenter__(self) -> AsyncSlaClient:
        self._start_monitor()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- one call ----------------------------------------------------------------------------
    async def _run(
        self, call: Call, answer: AsyncTokenStream, incremental: bool
    ) -> AsyncGenerator[Chunk, None]:
        """Attempts until one succeeds: fail over while no chunk has arrived.

        `incremental`: yield chunks as they arrive; otherwise yield nothing and set the result.
        """
        tried: set[str] = set()
        recorder: Recorder | None = None
        last: RequestError | None = None
        revived = False  # once per call: probe replicas held out when none is left
        while True:
            try:
                decision = self.router.decide(call.route, call.pin, frozenset(tried))
            except RequestError as error:
                if isinstance(error, ReplicaUnavailableError) and not revived:
                    revived = True
                    if call.remaining_s() > 0 and await self._revive(call.remaining_s()):
                        continue
                if isinstance(last, ServerRejectedError):  # alive but full: say so
                    raise failed(last, recorder) from None
                raise failed(error, recorder) from last
            recorder = Recorder(
                decision, call.request.request_id, call.request.stream, len(tried) + 1
            )
            self.router.started(decision)
            exchange: Exchange | None = None
            try:
                exchange = await self._send(call, decision, recorder, incremental)
                read = 0
                while True:
                    chunks = recorder.chunks
                    while incremental and read < len(chunks):
                        yield chunks[read]
                        read += 1
                    if exchange.finished:
                        break
                    await exchange.wait()
            except RequestError as error:
                retry = self.router.attempt_failed(
                    decision, error, bool(recorder.chunks), first_token_s=call.timeout.first_token
                )
                address = decision.replica.address
                if not self.router.health.is_up(address):  # down or suspect: a new channel
                    self._connections.retire(address)
                tried.add(address)
                if not retry or recorder.chunks or call.remaining_s() <= 0:
                    raise failed(error, recorder) from None
                last = error
                continue
            except BaseException:
                self.router.finished(decision, None)
                raise
            finally:
                if exchange is not None and not exchange.finished:
                    exchange.abandon()
            answer.result = recorder.result(self.router.output_tokens(recorder))
            self.router.finished(decision, answer.result)
            return

    async def _revive(self, budget_s: float) -> bool:
        """Router.revive in a worker thread, one round shared by every request awaiting it."""
        round_ = self._revival
        if round_ is None or round_.done():
            round_ = self._revival = asyncio.ensure_future(
                asyncio.to_thread(self.router.revive, budget_s)
            )
        return await asyncio.shield(round_)

    async def _send(
        self, call: Call, decision: Decision, recorder: Recorder, incremental: bool
    ) -> Exchange:
        """Write the request on its replica's stream (incremental: a dedicated one)."""
        address = decision.replica.address
        budget = call.remaining_s()
        if budget <= 0:
            raise TotalTimeoutError(call.budget_s, address)
        connection = self._connections.ready(address) or await self._connections.get(
            address, min(call.timeout.connect, budget)
        )
        endpoint = decision.endpoint
        message = build_request(
            call.request,
            endpoint.model,
            priority=decision.triton_priority,
            timeout_us=decision.timeout_us,
            contract=endpoint.contract,
        )
        stream = connection.stream(call.request.request_id, dedicated=incremental)
        exchange = Exchange(
            stream, recorder, call, incremental=incremental, engine_model=endpoint.engine_model
        )
        recorder.sent()
        stream.send(message, exchange)
        return exchange


class AsyncTokenStream:
    """The chunks of one call as they arrive; `result` is set once the answer is complete.

    Use with `async with` or call `aclose()`: closing before the end (or cancelling the task)
    cancels the request on the server. A failure raises a RequestError whose `result` holds
    the partial answer. `incremental=False` (generate's): nothing is yielded, the request
    rides the replica's shared stream, and the chunks are in `result`.
    """

    def __init__(self, client: AsyncSlaClient, call: Call, *, incremental: bool = True) -> None:
        self.call = call
        self._result: GenerationResult | None = None
        self._chunks = client._run(call, self, incremental)

    @property
    def result(self) -> GenerationResult:
        if self._result is None:
            raise RuntimeError("the stream has not finished; iterate it to the end first")
        return self._result

    @result.setter
    def result(self, value: GenerationResult) -> None:
        self._result = value

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks

    async def aclose(self) -> None:
        """Stop reading; an unfinished request is cancelled on the server."""
        await self._chunks.aclose()

    async def __aenter__(self) -> AsyncTokenStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
