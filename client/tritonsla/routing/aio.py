"""`AsyncSlaClient`: the asyncio client (twin of `tritonsla.routing.client.SlaClient`).

    async with AsyncSlaClient.from_deploy("deploy/cpu.yaml") as client:
        result = await client.generate("Hello", sla="realtime", max_tokens=16)
        async with client.stream("Hello", deadline_s=2.0) as chunks:
            async for chunk in chunks:
                print(chunk.text, end="")

One gRPC channel per replica carries every concurrent request, each on its own stream:
cancelling the task that awaits a request (or closing its stream) cancels that gRPC call, so
Triton sees the cancellation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path
from types import TracebackType

import grpc
import tritonclient.grpc.aio as aioclient
from typing_extensions import Unpack

from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.call import Call, CallOptions, failed, make_call
from tritonsla.routing.errors import (
    ConnectTimeoutError,
    FirstTokenTimeoutError,
    RequestError,
    ServerRejectedError,
    StreamBrokenError,
    TotalTimeoutError,
)
from tritonsla.routing.monitor import DEFAULT_INTERVAL_S, Monitor, run_monitor
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import EMPTY_FINAL, build_inputs, is_final, response_text
from tritonsla.routing.result import Chunk, GenerationResult, Recorder
from tritonsla.routing.router import Router, classify
from tritonsla.routing.table import EndpointTable, Replica, Target
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout
from tritonsla.routing.transport import ReplicaDown, as_server_exception, connect_async


class _Channels:
    """One asyncio client per replica, opened on first use.

    A failed replica's client is retired, not closed: closing a channel cancels every call on
    it, and other requests still on that channel must end with their own (typed) errors.
    Retired clients are closed with the AsyncSlaClient.
    """

    def __init__(self) -> None:
        self._clients: dict[str, aioclient.InferenceServerClient] = {}
        self._retired: list[aioclient.InferenceServerClient] = []
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, address: str, connect_timeout: float) -> aioclient.InferenceServerClient:
        client = self._clients.get(address)
        if client is not None:
            return client
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            client = self._clients.get(address)
            if client is None:
                client = await connect_async(address, connect_timeout)
                self._clients[address] = client
            return client

    def retire(self, address: str) -> None:
        client = self._clients.pop(address, None)
        if client is not None:
            self._retired.append(client)

    async def close(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        self._clients.clear()
        self._retired.clear()
        for client in clients:
            await client.close()


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
        self._channels = _Channels()
        self._monitor = Monitor(self.router, poll_interval)
        self._monitor_task: asyncio.Task | None = None

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
        async with self.stream(prompt, **options) as chunks:
            async for _ in chunks:
                pass
        return chunks.result

    def stream(self, prompt: str, **options: Unpack[CallOptions]) -> AsyncTokenStream:
        """Send `prompt`; iterate the returned AsyncTokenStream for chunks as they arrive."""
        self._start_monitor()
        return AsyncTokenStream(self, make_call(prompt, self.timeout, **options))

    def _start_monitor(self) -> None:
        if self._monitor_task is None:
            self._monitor_task = asyncio.get_running_loop().create_task(
                run_monitor(self._monitor), name="tritonsla-monitor"
            )

    async def aclose(self) -> None:
        """Stop the background monitor and close every channel."""
        task, self._monitor_task = self._monitor_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._channels.close()

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
    async def _run(self, call: Call, stream: AsyncTokenStream) -> AsyncGenerator[Chunk, None]:
        """Attempts until one succeeds: fail over while no chunk has reached the caller."""
        tried: set[str] = set()
        recorder: Recorder | None = None
        last: RequestError | None = None
        while True:
            try:
                decision = self.router.decide(call.route, call.pin, frozenset(tried))
            except RequestError as error:
                if isinstance(last, ServerRejectedError):  # alive but full: say so
                    raise failed(last, recorder) from None
                raise failed(error, recorder) from last
            recorder = Recorder(
                decision, call.request.request_id, call.request.stream, len(tried) + 1
            )
            self.router.started(decision)
            try:
                async with aclosing(self._attempt(call, decision, recorder)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            except (ReplicaDown, ConnectTimeoutError, ServerRejectedError) as error:
                self.router.finished(decision, None)
                if not isinstance(error, ServerRejectedError):  # down or silent: probe it
                    self.router.replica_failed(decision.replica)
                    self._channels.retire(decision.replica.address)
                tried.add(decision.replica.address)
                if recorder.chunks or call.remaining_s() <= 0:
                    raise failed(error, recorder) from None
                last = error
                continue
            except RequestError as error:
                self.router.finished(decision, None)
                raise failed(error, recorder) from None
            except BaseException:
                self.router.finished(decision, None)
                raise
            text = "".join(chunk.text for chunk in recorder.chunks)
            tokens = len(recorder.chunks) if call.request.stream else self.router.count_tokens(text)
            stream.result = recorder.result(tokens)
            self.router.finished(decision, stream.result)
            return

    async def _attempt(
        self, call: Call, decision: Decision, recorder: Recorder
    ) -> AsyncGenerator[Chunk, None]:
        """One request on one replica; yields chunks; cancellation cancels the gRPC call."""
        address = decision.replica.address
        budget = call.remaining_s()
        if budget <= 0:
            raise TotalTimeoutError(call.budget_s, address)
        client = await self._channels.get(address, min(call.timeout.connect, budget))
        done = asyncio.Event()

        async def requests():
            yield {
                "model_name": decision.endpoint.model,
                "inputs": build_inputs(call.request),
                "request_id": call.request.request_id,
                "priority": decision.triton_priority,
                "timeout": decision.timeout_us,
                "parameters": EMPTY_FINAL,
            }
            await done.wait()  # keep the stream open until the answer is complete

        responses = client.stream_infer(requests(), stream_timeout=max(budget, 0.001))
        recorder.sent()
        finished = False
        try:
            while not finished:
                remaining = call.remaining_s()
                wait = remaining if recorder.chunks else min(call.timeout.first_token, remaining)
                try:
                    result, error = await asyncio.wait_for(anext(responses), max(wait, 0.0))
                except asyncio.TimeoutError:
                    if recorder.chunks or wait >= remaining:
                        raise TotalTimeoutError(call.budget_s, address) from None
                    raise FirstTokenTimeoutError(call.timeout.first_token, address) from None
                except grpc.RpcError as rpc_error:
                    error, result = as_server_exception(rpc_error), None
                except StopAsyncIteration:
                    raise StreamBrokenError(
                        f"{address}: the stream ended before the final response", recorder.chunks
                    ) from None
                arrival_ns = time.perf_counter_ns()
                if error is not None:
                    raise classify(error, address, recorder.chunks, call.budget_s)
                text = response_text(result)
                finished = is_final(result)
                if text is not None:
                    yield recorder.add(text, arrival_ns)
        finally:
            done.set()
            if not finished:
                responses.cancel()


class AsyncTokenStream:
    """The chunks of one call as they arrive; `result` is set once the answer is complete.

    Use with `async with` or call `aclose()`: closing before the end (or cancelling the task)
    cancels the request on the server. A failure raises a RequestError whose `result` holds
    the partial answer.
    """

    def __init__(self, client: AsyncSlaClient, call: Call) -> None:
        self.call = call
        self._result: GenerationResult | None = None
        self._chunks = client._run(call, self)

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
