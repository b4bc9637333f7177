"""`SlaClient`: the synchronous client (twin of `tritonsla.routing.aio.AsyncSlaClient`).

    with SlaClient.from_deploy("deploy/cpu.yaml") as client:
        result = client.generate("Hello", sla="realtime", max_tokens=16)
        with client.stream("Hello", deadline_s=2.0) as chunks:
            for chunk in chunks:
                print(chunk.text, end="")

Safe to share between threads: each request takes a connection of its replica's pool and opens
its own gRPC stream on it. A request abandoned before its end (a timeout, a stream closed early,
an exception in the caller) is stopped at its engine with TensorRT-LLM's `stop`, sent on that
stream in the background (`_Stopper`): Triton 2.51 does not pass a cancelled call on to the engine
behind an ensemble. Only when no final response comes within the stop schedule is the stream
cancelled. The idle connections of a replica out of rotation (down, suspect, or dropped by
discovery) are closed.

Construction and the attempt loop are shared with the twin (`tritonsla.routing.base`,
`tritonsla.routing.attempts`); this module is the blocking transport.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException
from typing_extensions import Unpack

from tritonsla.routing.attempts import Attempts
from tritonsla.routing.base import BaseSlaClient, BaseTokenStream, ClientOptions
from tritonsla.routing.call import Call, CallOptions, make_call
from tritonsla.routing.errors import FirstTokenTimeoutError, TotalTimeoutError
from tritonsla.routing.monitor import MonitorThread
from tritonsla.routing.policy import Decision
from tritonsla.routing.request import (
    STOP_RESEND_DELAYS_S,
    build_inputs,
    is_final,
    parse_response,
    requested_outputs,
    stop_inputs,
)
from tritonsla.routing.result import Chunk, GenerationResult, Recorder
from tritonsla.routing.table import EndpointTable
from tritonsla.routing.transport import classify, connect

STOP_SPAN_S = sum(STOP_RESEND_DELAYS_S) + 1.0
"""How long a request's stream may outlive its budget: the stop schedule, and a second more."""
CLOSE_GRACE_S = 2.0
"""`close` waits up to this long for stopped requests to end before cancelling their streams."""


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

    def discard(self, address: str) -> None:
        """Close the idle connections of `address` (those in use are released as usual)."""
        with self._lock:
            clients = self._idle.pop(address, [])
        for client in clients:
            client.close()

    def close(self) -> None:
        with self._lock:
            clients = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for client in clients:
            client.close()


class _Inbox:
    """The responses of one attempt's stream, put by the stream's thread.

    `ended`: the request is over on the server (its final response, an error, or the call
    failed: then `broken`). `wake` is also set by `interrupt`, to end a wait for the end.
    """

    def __init__(self) -> None:
        self.responses: queue.SimpleQueue = queue.SimpleQueue()
        self.ended = threading.Event()
        self.wake = threading.Event()
        self.broken = False

    def put(self, result: grpcclient.InferResult | None, error: Exception | None) -> None:
        self.responses.put((result, error, time.perf_counter_ns()))
        if error is not None or is_final(result.get_response()):
            self.broken = error is not None and error.status() is not None
            self.ended.set()
            self.wake.set()

    def interrupt(self) -> None:
        self.wake.set()


class _Stopper:
    """Stops abandoned requests at their engine, each on its own stream, in the background.

    The stream stays open: `stop` goes out per STOP_RESEND_DELAYS_S until the request's final
    response comes; then the stream is half-closed and its connection reused. Without a final
    response the stream is cancelled (Triton then drops the request if it is still queued).
    """

    def __init__(self, pool: _Pool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._jobs: dict[threading.Thread, _Inbox] = {}

    def stop(
        self,
        client: grpcclient.InferenceServerClient,
        address: str,
        inbox: _Inbox,
        engine_model: str,
        request_id: str,
    ) -> None:
        """Stop `request_id` on `client`'s open stream; the connection is then the stopper's."""
        thread = threading.Thread(
            target=self._run,
            args=(client, address, inbox, engine_model, request_id),
            name="tritonsla-stop",
            daemon=True,
        )
        with self._lock:
            self._jobs[thread] = inbox
        thread.start()

    def _run(
        self,
        client: grpcclient.InferenceServerClient,
        address: str,
        inbox: _Inbox,
        engine_model: str,
        request_id: str,
    ) -> None:
        try:
            for delay in STOP_RESEND_DELAYS_S:
                if inbox.wake.is_set():
                    break
                client.async_stream_infer(engine_model, stop_inputs(), request_id=request_id)
                inbox.wake.wait(delay)
        except InferenceServerException:  # the stream failed; its callback said how
            pass
        finally:
            ended = inbox.ended.is_set()
            client.stop_stream(cancel_requests=not ended)
            if ended and not inbox.broken:
                self._pool.release(address, client)
            else:
                client.close()
            with self._lock:
                self._jobs.pop(threading.current_thread(), None)

    def close(self) -> None:
        """Wait up to CLOSE_GRACE_S for stopped requests to end, then cancel the rest."""
        deadline = time.monotonic() + CLOSE_GRACE_S
        with self._lock:
            jobs = dict(self._jobs)
        for thread in jobs:
            thread.join(max(deadline - time.monotonic(), 0.0))
        for thread, inbox in jobs.items():
            inbox.interrupt()
            thread.join()


class SlaClient(BaseSlaClient):
    """Routes each request to its SLA class's endpoint and streams the answer back."""

    def __init__(self, table: EndpointTable, **options: Unpack[ClientOptions]) -> None:
        super().__init__(table, **options)
        self._pool = _Pool()
        self._stopper = _Stopper(self._pool)
        self._monitor_thread = MonitorThread(self._monitor)

    def generate(self, prompt: str, **options: Unpack[CallOptions]) -> GenerationResult:
        """Send `prompt` and wait for the whole answer; raises a RequestError on failure."""
        with self.stream(prompt, **options) as chunks:
            for _ in chunks:
                pass
        return chunks.result

    def stream(self, prompt: str, **options: Unpack[CallOptions]) -> TokenStream:
        """Send `prompt`; iterate the returned TokenStream for chunks as they arrive."""
        return TokenStream(self, make_call(prompt, self.timeout, **options))

    def _drop(self, address: str) -> None:
        self._pool.discard(address)

    def close(self) -> None:
        """Stop the background monitor, end stops under way, close every connection."""
        self._monitor_thread.close()
        self._stopper.close()
        self._pool.close()

    def __enter__(self) -> SlaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- one call ----------------------------------------------------------------------------
    def _run(self, attempts: Attempts) -> Generator[Chunk, None, None]:
        """Attempts until one succeeds: fail over while no chunk has reached the caller."""
        call = attempts.call
        while attempts.result is None:
            decision = attempts.next()
            if decision is None:  # every replica held out: probe them once, then route again
                attempts.revived(self.router.revive(call.remaining_s()))
                continue
            with attempts.outcome() as recorder:
                yield from self._attempt(call, decision, recorder)

    def _attempt(
        self, call: Call, decision: Decision, recorder: Recorder
    ) -> Generator[Chunk, None, None]:
        """One request on one replica; yields chunks; closing the generator cancels it."""
        address = decision.replica.address
        budget = call.remaining_s()
        if budget <= 0:
            raise TotalTimeoutError(call.budget_s, address)
        client = self._pool.acquire(address, min(call.timeout.connect, budget))
        inbox = _Inbox()
        finished = False
        broken = False
        try:
            try:
                # the stream outlives the budget by the stop schedule: an abandoned request is
                # stopped on it
                client.start_stream(inbox.put, stream_timeout=call.remaining_s() + STOP_SPAN_S)
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
                if not inbox.responses.empty():  # the stream's own report names the cause
                    error = inbox.responses.get_nowait()[1] or error
                raise classify(error, address, recorder.chunks, call.budget_s) from None
            while not finished:
                remaining = call.remaining_s()
                wait = remaining if recorder.chunks else min(call.timeout.first_token, remaining)
                try:
                    result, error, arrival_ns = inbox.responses.get(timeout=max(wait, 0.0))
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
            engine = decision.endpoint.engine_model
            if not (finished or broken) and engine is not None:  # abandoned: stop it
                self._stopper.stop(client, address, inbox, engine, call.request.request_id)
            else:
                # after a complete answer the stream is half-closed: a cancellation then can
                # leave Triton 2.51's ensemble counting a request in flight, and it never unloads
                client.stop_stream(cancel_requests=not finished)
                if broken:
                    client.close()
                else:
                    self._pool.release(address, client)


class TokenStream(BaseTokenStream):
    """The chunks of one call as they arrive; `result` is set once the answer is complete.

    Use as a context manager or call `close()`: closing before the end cancels the request on
    the server. A failure raises a RequestError whose `result` holds the partial answer.
    """

    def __init__(self, client: SlaClient, call: Call) -> None:
        attempts = client._attempts(call)
        super().__init__(attempts)
        self._chunks = client._run(attempts)

    def __iter__(self) -> Iterator[Chunk]:
        return self._chunks

    def close(self) -> None:
        """Stop reading; an unfinished request is cancelled on the server."""
        self._chunks.close()

    def __enter__(self) -> TokenStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
