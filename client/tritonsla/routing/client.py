"""`SlaClient`: the synchronous client (twin of `tritonsla.routing.aio.AsyncSlaClient`).

    with SlaClient.from_deploy("deploy/cpu.yaml") as client:
        result = client.generate("Hello", sla="realtime", max_tokens=16)
        with client.stream("Hello", deadline_s=2.0) as chunks:
            for chunk in chunks:
                print(chunk.text, end="")

Safe to share between threads: each request takes a connection of its replica's pool and opens
its own gRPC stream on it, so closing that stream cancels exactly that request on the server.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException
from typing_extensions import Unpack

from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.call import Call, CallOptions, failed, make_call
from tritonsla.routing.errors import (
    ConnectTimeoutError,
    FirstTokenTimeoutError,
    RequestError,
    ServerRejectedError,
    TotalTimeoutError,
)
from tritonsla.routing.monitor import DEFAULT_INTERVAL_S, Monitor, MonitorThread
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import build_inputs, parse_response, requested_outputs
from tritonsla.routing.result import Chunk, GenerationResult, Recorder
from tritonsla.routing.router import Router, classify
from tritonsla.routing.table import EndpointTable, Replica, Target
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout
from tritonsla.routing.transport import ReplicaDown, connect


class _Pool:
    """Idle connections per replica; a connection serves one request (one stream) at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[str, list[grpcclient.InferenceServerClient]] = {}

    def acquire(self, address: str, connect_timeout: float) -> grpcclient.InferenceServerClient:
        with self._lock:
            idle = self._idle.get(address)
            if idle:
                return idle.pop()
        return connect(address, connect_timeout)

    def release(self, address: str, client: grpcclient.InferenceServerClient) -> None:
        with self._lock:
            self._idle.setdefault(address, []).append(client)

    def close(self) -> None:
        with self._lock:
            clients = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for client in clients:
            client.close()


class SlaClient:
    """Routes each request to its SLA class's endpoint and streams the answer back."""

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
        self._pool = _Pool()
        self._monitor = MonitorThread(Monitor(self.router, poll_interval))

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
    ) -> SlaClient:
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
    ) -> SlaClient:
        """A client of a loaded Deployment's endpoints."""
        table = EndpointTable.from_deployment(deployment, target=target, replicas=replicas)
        return cls(
            table,
            timeout=timeout,
            default_sla=default_sla,
            batch_sla=batch_sla,
            poll_interval=poll_interval,
        )

    def generate(self, prompt: str, **options: Unpack[CallOptions]) -> GenerationResult:
        """Send `prompt` and wait for the whole answer; raises a RequestError on failure."""
        with self.stream(prompt, **options) as chunks:
            for _ in chunks:
                pass
        return chunks.result

    def stream(self, prompt: str, **options: Unpack[CallOptions]) -> TokenStream:
        """Send `prompt`; iterate the returned TokenStream for chunks as they arrive."""
        return TokenStream(self, make_call(prompt, self.timeout, **options))

    def close(self) -> None:
        """Stop the background monitor and close every connection."""
        self._monitor.close()
        self._pool.close()

    def __enter__(self) -> SlaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- one call ----------------------------------------------------------------------------
    def _run(self, call: Call, stream: TokenStream) -> Generator[Chunk, None, None]:
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
                yield from self._attempt(call, decision, recorder)
            except (ReplicaDown, ConnectTimeoutError, ServerRejectedError) as error:
                self.router.finished(decision, None)
                if not isinstance(error, ServerRejectedError):  # down or silent: probe it
                    self.router.replica_failed(decision.replica)
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
            stream.result = recorder.result(self.router.output_tokens(recorder))
            self.router.finished(decision, stream.result)
            return

    def _attempt(
        self, call: Call, decision: Decision, recorder: Recorder
    ) -> Generator[Chunk, None, None]:
        """One request on one replica; yields chunks; closing the generator cancels it."""
        address = decision.replica.address
        budget = call.remaining_s()
        if budget <= 0:
            raise TotalTimeoutError(call.budget_s, address)
        client = self._pool.acquire(address, min(call.timeout.connect, budget))
        responses: queue.SimpleQueue = queue.SimpleQueue()

        def on_response(result, error) -> None:
            responses.put((result, error, time.perf_counter_ns()))

        finished = False
        broken = False
        try:
            try:
                client.start_stream(on_response, stream_timeout=max(call.remaining_s(), 0.001))
                recorder.sent()
                client.async_stream_infer(
                    decision.endpoint.model,
                    build_inputs(call.request),
                    outputs=requested_outputs(decision.endpoint.contract),
                    request_id=call.request.request_id,
                    enable_empty_final_response=True,
                    priority=decision.triton_priority,
                    timeout=decision.timeout_us,
                )
            except InferenceServerException as error:  # the stream failed at once
                broken = True
                if not responses.empty():  # the stream's own report names the cause
                    error = responses.get_nowait()[1] or error
                raise classify(error, address, recorder.chunks, call.budget_s) from None
            while not finished:
                remaining = call.remaining_s()
                wait = remaining if recorder.chunks else min(call.timeout.first_token, remaining)
                try:
                    result, error, arrival_ns = responses.get(timeout=max(wait, 0.0))
                except queue.Empty:
                    if recorder.chunks or wait >= remaining:
                        raise TotalTimeoutError(call.budget_s, address) from None
                    raise FirstTokenTimeoutError(call.timeout.first_token, address) from None
                if error is not None:
                    broken = error.status() is not None  # the call failed, not just the request
                    raise classify(error, address, recorder.chunks, call.budget_s)
                reply = parse_response(result.get_response())
                finished = reply.final
                chunk = recorder.take(reply, arrival_ns)
                if chunk is not None:
                    yield chunk
        finally:
            # an unfinished request is cancelled (bounded even if the server lingers); after a
            # complete answer the stream is half-closed: a cancellation then can leave Triton
            # 2.51's ensemble counting a request in flight, and it never unloads
            client.stop_stream(cancel_requests=not finished)
            if broken:
                client.close()
            else:
                self._pool.release(address, client)


class TokenStream:
    """The chunks of one call as they arrive; `result` is set once the answer is complete.

    Use as a context manager or call `close()`: closing before the end cancels the request on
    the server. A failure raises a RequestError whose `result` holds the partial answer.
    """

    def __init__(self, client: SlaClient, call: Call) -> None:
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

    def __iter__(self) -> Iterator[Chunk]:
        return self._chunks

    def close(self) -> None:
        """Stop reading; an unfinished request is cancelled on the server."""
        self._chunks.close()

    def __enter__(self) -> TokenStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
