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
The connection of a replica out of rotation (down, suspect, or dropped by discovery) is retired:
closed once the requests on it have ended.

Construction and the attempt loop are shared with the twin (`tritonsla.routing.base`,
`tritonsla.routing.attempts`); this module is the asyncio transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from typing_extensions import Unpack

from tritonsla.routing.attempts import Attempts
from tritonsla.routing.base import BaseSlaClient, BaseTokenStream, ClientOptions
from tritonsla.routing.call import Call, CallOptions, make_call
from tritonsla.routing.errors import TotalTimeoutError
from tritonsla.routing.monitor import run_monitor
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import build_request
from tritonsla.routing.result import Chunk, GenerationResult, Recorder
from tritonsla.routing.streams import Connection, Exchange
from tritonsla.routing.table import EndpointTable
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


class AsyncSlaClient(BaseSlaClient):
    """Routes each request to its SLA class's endpoint and streams the answer back (asyncio)."""

    def __init__(self, table: EndpointTable, **options: Unpack[ClientOptions]) -> None:
        super().__init__(table, **options)
        self._connections = _Connections()
        self._monitor_task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._revival: asyncio.Future[bool] | None = None

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

    def _drop(self, address: str) -> None:
        """Retire the connection of `address`: a new channel for the next request there."""
        self._connections.retire(address)

    def _replica_gone(self, address: str) -> None:
        """Discovery dropped `address` (called from the monitor's thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drop, address)

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

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- one call ----------------------------------------------------------------------------
    async def _run(self, attempts: Attempts, incremental: bool) -> AsyncGenerator[Chunk, None]:
        """Attempts until one succeeds: fail over while no chunk has arrived.

        `incremental`: yield chunks as they arrive; otherwise yield nothing (the chunks are in
        the result).
        """
        call = attempts.call
        while attempts.result is None:
            decision = attempts.next()
            if decision is None:  # every replica held out: probe them once, then route again
                attempts.revived(await self._revive(call.remaining_s()))
                continue
            with attempts.outcome() as recorder:
                exchange = await self._send(call, decision, recorder, incremental)
                try:
                    read = 0
                    while True:
                        chunks = recorder.chunks
                        while incremental and read < len(chunks):
                            yield chunks[read]
                            read += 1
                        if exchange.finished:
                            break
                        await exchange.wait()
                finally:
                    if not exchange.finished:
                        exchange.abandon()

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


class AsyncTokenStream(BaseTokenStream):
    """The chunks of one call as they arrive; `result` is set once the answer is complete.

    Use with `async with` or call `aclose()`: closing before the end (or cancelling the task)
    cancels the request on the server. A failure raises a RequestError whose `result` holds
    the partial answer. `incremental=False` (generate's): nothing is yielded, the request
    rides the replica's shared stream, and the chunks are in `result`.
    """

    def __init__(self, client: AsyncSlaClient, call: Call, *, incremental: bool = True) -> None:
        attempts = client._attempts(call)
        super().__init__(attempts)
        self._chunks = client._run(attempts, incremental)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks

    async def aclose(self) -> None:
        """Stop reading; an unfinished request is cancelled on the server."""
        await self._chunks.aclose()

    async def __aenter__(self) -> AsyncTokenStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
