"""The gateway's ASGI app: OpenAI's HTTP API over one deployment's AsyncSlaClient.

    POST /v1/completions, /v1/chat/completions   streamed (SSE, `data: [DONE]`) or not
    GET  /v1/models                              the model, and `<model>:<class>` per class
    GET  /metrics                                `tritonsla.gateway.metrics`
    GET  /health                                 the process answers
    GET  /health/ready                           200 only when every class has a ready replica

A request is validated and planned (`schema`, `plan`) before anything is sent, so bad input
never reaches the engine. Streamed requests wait for their first text (or their error) before
answering, so a full queue, a deadline or a missing replica is still an HTTP status (429, 504,
503), not an error inside a 200 stream. A client that disconnects, before or during its
answer, has its request cancelled: the SDK stops it at the engine.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tritonsla.gateway.errors import ApiError, Outcome, routing_failure
from tritonsla.gateway.metrics import GatewayMetrics, Timing
from tritonsla.gateway.plan import Catalog, Plan
from tritonsla.gateway.readiness import Readiness
from tritonsla.gateway.responses import Kind, Shape, error_event, finish_reason, usage
from tritonsla.gateway.schema import ChatRequest, CompletionRequest, parse_body
from tritonsla.gateway.stops import StopFilter, trim
from tritonsla.gateway.streaming import ClientWatch, EventStream
from tritonsla.gateway_protocol import CLASS_HEADER, DONE
from tritonsla.routing import AsyncSlaClient, AsyncTokenStream, Chunk, RequestError

MAX_BODY_BYTES = 16 * 1024 * 1024
CLIENT_GONE = 499
"""The status logged for a client that disconnected (nginx's convention; nobody receives it)."""


class ClientGone(Exception):
    """The HTTP client disconnected before its answer was ready."""


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


@dataclass
class Clock:
    """Gateway-side times of one request (perf_counter_ns): received, first text, end."""

    received_ns: int
    first_ns: int | None = None
    end_ns: int | None = None

    def timing(self, tokens: int | None) -> Timing:
        def seconds(a: int | None, b: int | None) -> float | None:
            return None if a is None or b is None else (b - a) / 1e9

        gap = seconds(self.first_ns, self.end_ns)
        itl = gap / (tokens - 1) if gap is not None and tokens and tokens >= 2 else None
        return Timing(
            seconds(self.received_ns, self.first_ns), itl, seconds(self.received_ns, self.end_ns)
        )


class Gateway:
    """The request handlers, over one client, catalog and metrics."""

    def __init__(
        self,
        client: AsyncSlaClient,
        catalog: Catalog,
        metrics: GatewayMetrics,
        readiness: Readiness,
        api_key: str | None,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.metrics = metrics
        self.readiness = readiness
        self.api_key = api_key

    # --- plumbing --------------------------------------------------------------------------
    def authorize(self, headers: Mapping[str, str]) -> None:
        """Raise 401 unless the API key (when one is set) came as `Authorization: Bearer`."""
        if self.api_key is None:
            return
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise ApiError(
                401,
                "missing or wrong API key: send header `Authorization: Bearer <key>` with the "
                "key the gateway was started with (environment TRITONSLA_API_KEY)",
                "authorization",
                "invalid_api_key",
                "authentication_error",
                {"WWW-Authenticate": "Bearer"},
            )

    def _ended(self, plan: Plan, outcome: Outcome, timing: Timing, tokens: int | None) -> None:
        slo = self.client.router.table.endpoint(plan.sla).slo
        self.metrics.ended(plan.sla, slo, outcome, timing, plan.prompt_tokens, tokens)

    # --- endpoints ---------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        try:
            self.authorize(request.headers)
        except ApiError as error:
            return error_response(error)
        data = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": "tritonsla"}
            for model_id in self.catalog.model_ids()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def completions(self, request: Request) -> Response:
        return await self._generate(request, "completion")

    async def chat(self, request: Request) -> Response:
        return await self._generate(request, "chat")

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def live(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        classes = await self.readiness.check()
        ready = all(classes.values())
        return JSONResponse({"ready": ready, "classes": classes}, status_code=200 if ready else 503)

    # --- generation --------------------------------------------------------------------------
    async def _generate(self, request: Request, kind: Kind) -> Response:
        clock = Clock(time.perf_counter_ns())
        try:
            self.authorize(request.headers)
            raw = await request.body()
            if kind == "chat":
                plan = self.catalog.plan_chat(parse_body(ChatRequest, raw), request.headers)
            else:
                plan = self.catalog.plan_completion(
                    parse_body(CompletionRequest, raw), request.headers
                )
        except ApiError as error:
            return error_response(error)
        shape = Shape(kind, plan.model_id)
        self.metrics.started(plan.sla)
        if plan.stream:
            return await self._stream(request, plan, shape, clock)
        return await self._whole(request, plan, shape, clock)

    def _failed(self, plan: Plan, error: ClientGone | RequestError) -> Response:
        """The answer to a request that ended before its first token: counted, then answered."""
        if isinstance(error, ClientGone):
            self._ended(plan, "cancelled", Timing(), None)
            return Response(status_code=CLIENT_GONE)
        answer, outcome = routing_failure(error)
        self._ended(plan, outcome, Timing(), None)
        return error_response(answer)

    async def _whole(self, request: Request, plan: Plan, shape: Shape, clock: Clock) -> Response:
        watch = ClientWatch(request.receive)
        try:
            result = await self.client.generate(plan.prompt, **plan.options)
        except RequestError as error:
            return self._failed(plan, error)
        except asyncio.CancelledError:
            if not watch.left():
                self._ended(plan, "error", Timing(), None)
                raise
            return self._failed(plan, ClientGone())
        except BaseException:
            self._ended(plan, "error", Timing(), None)
            raise
        finally:
            watch.close()
        clock.end_ns = time.perf_counter_ns()
        clock.first_ns = result.first_token_ns
        tokens = result.output_tokens or 0
        text, stopped = trim(result.text, plan.stops)
        reason = "stop" if stopped else finish_reason(tokens, plan.max_tokens, False)
        self._ended(plan, "ok", clock.timing(tokens), tokens)
        body = shape.whole(text, reason, usage(plan.prompt_tokens, tokens))
        return JSONResponse(body, headers={CLASS_HEADER: plan.sla})

    async def _stream(self, request: Request, plan: Plan, shape: Shape, clock: Clock) -> Response:
        """Wait for the first chunk in this task (a disconnect cancels it), then stream."""
        stream = self.client.stream(plan.prompt, **plan.options)
        chunks = aiter(stream)
        watch = ClientWatch(request.receive)
        try:
            first = await anext(chunks, None)
        except RequestError as error:
            watch.close()
            return self._failed(plan, error)
        except asyncio.CancelledError:
            watch.close()
            if not watch.left():
                self._ended(plan, "error", Timing(), None)
                raise
            return self._failed(plan, ClientGone())
        except BaseException:
            watch.close()
            self._ended(plan, "error", Timing(), None)
            await stream.aclose()
            raise
        ending = Ending(self, plan, stream)
        events = self._events(plan, shape, clock, stream, chunks, first, ending)
        return EventStream(events, ending.gone, watch=watch, headers={CLASS_HEADER: plan.sla})

    async def _events(
        self,
        plan: Plan,
        shape: Shape,
        clock: Clock,
        stream: AsyncTokenStream,
        chunks: AsyncIterator[Chunk],
        first: Chunk | None,
        ending: Ending,
    ) -> AsyncGenerator[list[str], None]:
        """The SSE data lines of a stream whose first chunk (None: it had none) has come, in
        batches that are ready together (a chat's role announcement and its first text; the
        finish reason, usage and [DONE]), each batch written at once."""
        stops = StopFilter(plan.stops)
        outcome: Outcome = "error"
        tokens: int | None = None
        received: list[str] = []
        pending = [shape.chunk(None, role=True)] if shape.kind == "chat" else []
        try:
            chunk = first
            while chunk is not None:
                received.append(chunk.text)
                text = stops.push(chunk.text)
                if text:
                    if clock.first_ns is None:
                        clock.first_ns = time.perf_counter_ns()
                    pending.append(shape.chunk(text))
                    yield pending
                    pending = []
                if stops.stopped:
                    break
                chunk = await anext(chunks, None)
            if stops.stopped:  # matched here, not by the engine: stop it, count what came
                await stream.aclose()
                tokens = self._count("".join(received))
            else:
                rest = stops.finish()
                if rest:
                    pending.append(shape.chunk(rest))
                tokens = stream.result.output_tokens or 0
            clock.end_ns = time.perf_counter_ns()
            reason = "stop" if stops.stopped else finish_reason(tokens, plan.max_tokens, False)
            pending.append(shape.chunk(None, reason))
            if plan.include_usage:
                pending.append(shape.usage_chunk(usage(plan.prompt_tokens, tokens)))
            outcome = "ok"
            yield [*pending, DONE]
        except RequestError as error:
            answer, outcome = routing_failure(error)
            yield [*pending, error_event(answer.body()), DONE]
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            timing = clock.timing(tokens) if outcome == "ok" else Timing()
            await ending.end(outcome, timing, tokens)

    def _count(self, text: str) -> int:
        return len(self.catalog.tokenizer.encode(text, add_special_tokens=False))


class Ending:
    """The end of a streamed request, recorded once: by its events, or by the response when the
    events never ran (the client left before the response started)."""

    def __init__(self, gateway: Gateway, plan: Plan, stream: AsyncTokenStream) -> None:
        self.gateway = gateway
        self.plan = plan
        self.stream = stream
        self.done = False

    async def end(self, outcome: Outcome, timing: Timing, tokens: int | None) -> None:
        """Close the SDK stream (an unfinished request is stopped) and record the outcome."""
        if self.done:
            return
        self.done = True
        try:
            await self.stream.aclose()
        finally:
            self.gateway._ended(self.plan, outcome, timing, tokens)

    async def gone(self) -> None:
        await self.end("cancelled", Timing(), None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = ApiError(
        exc.status_code,
        f"{request.method} {request.url.path}: {exc.detail}",
        None,
        "not_found" if exc.status_code == 404 else None,
    )
    return error_response(error)


def build_app(gateway: Gateway) -> Starlette:
    """The Starlette app of `gateway`: its lifespan runs the client (and its background monitor)
    and closes it and the readiness checks at the end."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The client's monitor starts with the app, not with the first request: it polls load,
        # probes held-out replicas and re-resolves DNS replicas, so /health/ready can turn ready.
        try:
            async with gateway.client:
                yield
        finally:
            await gateway.readiness.close()

    routes = [
        Route("/v1/completions", gateway.completions, methods=["POST"]),
        Route("/v1/chat/completions", gateway.chat, methods=["POST"]),
        Route("/v1/models", gateway.models, methods=["GET"]),
        Route("/metrics", gateway.metrics_endpoint, methods=["GET"]),
        Route("/health", gateway.live, methods=["GET"]),
        Route("/health/ready", gateway.ready, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
        max_body_size=MAX_BODY_BYTES,
    )
