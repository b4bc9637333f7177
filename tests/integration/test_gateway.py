"""The gateway against a real tritonserver (deploy/cpu.yaml): the official `openai` client,
bad input that never reaches the engine, cancellation on disconnect, metrics and readiness."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from openai import OpenAI

from tests.integration.conftest import ServedDeployment
from tritonsla.gateway import GatewayThread, create_app
from tritonsla.routing import Replica
from tritonsla.server.ports import free_ports
from tritonsla.text.tokenizer import TextTokenizer, load_tokenizer

pytestmark = pytest.mark.integration

PROMPT = "The morning train left the station"


@dataclass(frozen=True)
class Gateway:
    served: ServedDeployment
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tokenizer(self) -> TextTokenizer:
        return load_tokenizer(
            self.served.deployment.path(self.served.deployment.deploy.model.tokenizer)
        )

    def openai(self) -> OpenAI:
        return OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0, timeout=60)

    def post(self, path: str, body: bytes | dict, headers: dict | None = None):
        """(status, JSON body) of a POST."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request("POST", path, raw, {"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture(scope="module")
def gateway(cpu_server: ServedDeployment) -> Iterator[Gateway]:
    endpoints = cpu_server.endpoints
    replica = Replica(endpoints.grpc_address, endpoints.metrics_url)
    (port,) = free_ports(1)
    thread = GatewayThread(create_app(cpu_server.deployment, replicas=[replica]), "127.0.0.1", port)
    thread.start()
    try:
        yield Gateway(cpu_server, "127.0.0.1", port)
    finally:
        thread.stop()


def series(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def triton_metrics(served: ServedDeployment) -> str:
    return urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()


def settled_tokens(served: ServedDeployment, sla: str, timeout: float = 30.0) -> float:
    """The engine's generated tokens of `sla` once it is idle and the figure is stable."""
    model = f"{sla}_tensorrt_llm"
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        text = triton_metrics(served)
        busy = sum(
            series(text, f"tritonsla_engine_{gauge}", model=model)
            for gauge in ("active_requests", "waiting_requests")
        )
        tokens = series(text, "tritonsla_engine_generated_tokens_total", model=model)
        if busy == 0 and tokens == last:
            return tokens
        last = tokens
        time.sleep(0.3)
    raise AssertionError(f"the {sla} engine did not settle within {timeout} s")


def settled(read: Callable[[], float], timeout: float = 10.0) -> float:
    """`read()` once two reads 0.3 s apart agree."""
    deadline = time.monotonic() + timeout
    last = read()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"no stable value within {timeout} s")


# --- the official openai client ------------------------------------------------------------------
def test_openai_client_completions_and_chat_with_exact_usage(gateway: Gateway) -> None:
    client = gateway.openai()
    before = settled_tokens(gateway.served, "realtime")
    greedy = {"max_tokens": 12, "temperature": 0.0, "seed": 7}

    whole = client.completions.create(model="tiny-gpt2:realtime", prompt=PROMPT, **greedy)
    streamed = client.completions.create(
        model="tiny-gpt2:realtime",
        prompt=PROMPT,
        stream=True,
        stream_options={"include_usage": True},
        **greedy,
    )
    pieces, stream_usage, reasons = [], None, []
    for event in streamed:
        if event.usage is not None:
            stream_usage = event.usage
        for choice in event.choices:
            pieces.append(choice.text)
            reasons.append(choice.finish_reason)

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    chat = client.chat.completions.create(
        model="tiny-gpt2", messages=messages, extra_headers={"x-sla-class": "realtime"}, **greedy
    )
    chat_stream = client.chat.completions.create(
        model="tiny-gpt2:realtime",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **greedy,
    )
    deltas, chat_usage, roles = [], None, []
    for event in chat_stream:
        if event.usage is not None:
            chat_usage = event.usage
        for choice in event.choices:
            roles.append(choice.delta.role)
            deltas.append(choice.delta.content or "")
    after = settled_tokens(gateway.served, "realtime")

    prompt_tokens = len(gateway.tokenizer.encode(PROMPT))
    assert whole.model == "tiny-gpt2:realtime" and whole.object == "text_completion"
    assert whole.usage.prompt_tokens == prompt_tokens
    assert 1 <= whole.usage.completion_tokens <= 12
    assert whole.usage.total_tokens == prompt_tokens + whole.usage.completion_tokens
    assert "".join(pieces) == whole.choices[0].text != ""  # greedy: the same answer, streamed
    assert reasons[-1] == whole.choices[0].finish_reason
    assert stream_usage.model_dump() == whole.usage.model_dump()

    chat_prompt = "System: Be brief.\nUser: Hi!\nAssistant:"  # the shipped template
    assert chat.usage.prompt_tokens == len(gateway.tokenizer.encode(chat_prompt))
    assert chat.choices[0].message.role == "assistant"
    assert "".join(deltas) == chat.choices[0].message.content
    assert roles[0] == "assistant"
    assert chat_usage.model_dump() == chat.usage.model_dump()

    generated = [u.completion_tokens for u in (whole.usage, stream_usage, chat.usage, chat_usage)]
    assert after - before == sum(generated)  # exact: what the engine counted


def test_stop_sequence_ends_the_answer_before_it(gateway: Gateway) -> None:
    client = gateway.openai()
    greedy = {"model": "tiny-gpt2:realtime", "prompt": PROMPT, "temperature": 0.0}
    full = client.completions.create(max_tokens=16, **greedy).choices[0].text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    assert stop.strip(), f"pick a visible stop in {full!r}"
    cut = full[: full.find(stop)]
    answer = client.completions.create(max_tokens=16, stop=[stop], **greedy)
    pieces = [
        c.text
        for e in client.completions.create(max_tokens=16, stop=stop, stream=True, **greedy)
        for c in e.choices
    ]
    assert answer.choices[0].text == cut == "".join(pieces)
    assert answer.choices[0].finish_reason == "stop"


# --- bad input: a 400 naming the field; nothing reaches the engine -------------------------------
OK = {"model": "tiny-gpt2", "prompt": PROMPT, "max_tokens": 4}
CHAT = {"model": "tiny-gpt2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
LONG = "word " * 400  # 400 tokens and more: beyond every class's max_input_len (256)

BAD_INPUT = [
    # (path, body, headers, param the error names, words of the message)
    ("/v1/completions", b"{not json", {}, None, "JSON body"),
    ("/v1/completions", b"[1, 2]", {}, None, "JSON object"),
    ("/v1/completions", {**OK, "bogus": 1}, {}, "bogus", "Unrecognized"),
    ("/v1/completions", {"model": "tiny-gpt2"}, {}, "prompt", "required"),
    ("/v1/completions", {**OK, "max_tokens": -5}, {}, "max_tokens", "greater than"),
    ("/v1/completions", {**OK, "max_tokens": 0}, {}, "max_tokens", "greater than"),
    ("/v1/completions", {**OK, "max_tokens": "12"}, {}, "max_tokens", "integer"),
    ("/v1/completions", {**OK, "prompt": ["a", "b"]}, {}, "prompt", "one prompt"),
    ("/v1/completions", {**OK, "prompt": ""}, {}, "prompt", "empty"),
    ("/v1/completions", {**OK, "temperature": 3}, {}, "temperature", "less than"),
    ("/v1/completions", {**OK, "top_p": -0.1}, {}, "top_p", "greater than"),
    ("/v1/completions", {**OK, "seed": -1}, {}, "seed", "greater than"),
    ("/v1/completions", {**OK, "stop": list("abcde")}, {}, "stop", "at most 4"),
    ("/v1/completions", {**OK, "n": 3}, {}, "n", "not supported"),
    ("/v1/completions", {**OK, "priority": "high"}, {}, "priority", "integer"),
    (
        "/v1/completions",
        {**OK, "stream_options": {"include_usage": True}},
        {},
        "stream_options",
        "only allowed",
    ),
    ("/v1/completions", {**OK, "model": "gpt-4"}, {}, "model", "Available: tiny-gpt2"),
    ("/v1/completions", {**OK, "model": "tiny-gpt2:turbo"}, {}, "model", "unknown model"),
    ("/v1/completions", OK, {"x-sla-class": "turbo"}, "x-sla-class", "Available: realtime"),
    (
        "/v1/completions",
        {**OK, "model": "tiny-gpt2:batch"},
        {"x-sla-class": "realtime"},
        "x-sla-class",
        "contradicts",
    ),
    (
        "/v1/completions",
        OK,
        {"x-request-deadline-ms": "soon"},
        "x-request-deadline-ms",
        "milliseconds",
    ),
    ("/v1/completions", {**OK, "prompt": LONG}, {}, "prompt", "max_input_len"),
    ("/v1/completions", {**OK, "max_tokens": 600}, {}, "max_tokens", "max_seq_len"),
    ("/v1/completions", {**OK, "min_tokens": 9}, {}, "min_tokens", "exceeds"),
    ("/v1/chat/completions", {**CHAT, "messages": []}, {}, "messages", "at least 1"),
    (
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "robot", "content": "x"}]},
        {},
        "messages[0].role",
        "'user'",
    ),
    (
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user"}]},
        {},
        "messages[0].content",
        "required",
    ),
    (
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": LONG}]},
        {},
        "messages",
        "max_input_len",
    ),
    (
        "/v1/chat/completions",
        {**CHAT, "tools": [{"type": "function"}]},
        {},
        "tools",
        "not supported",
    ),
]


def test_bad_input_is_a_400_naming_the_field_and_never_reaches_the_engine(
    gateway: Gateway,
) -> None:
    def engine_requests() -> float:
        text = triton_metrics(gateway.served)
        return series(text, "nv_inference_request_success") + series(
            text, "nv_inference_request_failure"
        )

    before = settled(engine_requests)  # earlier requests' stops are counted too
    for path, body, headers, param, words in BAD_INPUT:
        status, answer = gateway.post(path, body, headers)
        case = f"{path} {body!r} {headers}"
        assert status == 400, f"{case}: {status} {answer}"
        error = answer["error"]
        assert error["type"] == "invalid_request_error", case
        assert error["param"] == param, f"{case}: {error}"
        assert words in error["message"], f"{case}: {error['message']}"
    _, metrics = gateway.get("/metrics")
    assert engine_requests() == before
    assert series(metrics, "tritonsla_gateway_in_flight") == 0


# --- statuses from routing -----------------------------------------------------------------------
def test_a_deadline_that_cannot_be_met_is_a_504(gateway: Gateway) -> None:
    """Once the class has answered, admission control knows its latency and refuses a 1 ms
    deadline before sending (a request sent and timed out would also be a 504, but would hold
    the replica out as suspect)."""
    body = {**OK, "model": "tiny-gpt2:batch", "max_tokens": 8}
    assert gateway.post("/v1/completions", body)[0] == 200
    status, answer = gateway.post("/v1/completions", body, {"x-request-deadline-ms": "1"})
    assert status == 504, answer
    assert (answer["error"]["type"], answer["error"]["code"]) == (
        "timeout_error",
        "deadline_unmeetable",
    )
    assert answer["error"]["param"] == "x-request-deadline-ms"


def test_a_full_queue_is_a_429_with_retry_after(gateway: Gateway) -> None:
    """Realtime takes 4 in flight and queues 8 (REJECT beyond): 24 at once overflow it."""
    body = {**OK, "model": "tiny-gpt2:realtime", "max_tokens": 48, "min_tokens": 48}

    def send(_: int) -> tuple[int, dict, str | None]:
        conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=60)
        try:
            conn.request(
                "POST",
                "/v1/completions",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            return response.status, json.loads(response.read()), response.getheader("Retry-After")
        finally:
            conn.close()

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(send, range(24)))
    statuses = sorted(status for status, _, _ in answers)
    assert 200 in statuses and 429 in statuses, statuses
    assert set(statuses) <= {200, 429}, answers
    for status, answer, retry_after in answers:
        if status == 429:
            assert answer["error"]["type"] == "rate_limit_error", answer
            assert retry_after is not None and int(retry_after) >= 1


# --- a client that goes away: the engine stops ---------------------------------------------------
def _open(gateway: Gateway, body: dict) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=60)
    conn.request(
        "POST", "/v1/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    return conn


def test_disconnect_cancels_the_request_at_the_engine(gateway: Gateway) -> None:
    served = gateway.served
    long = {**OK, "model": "tiny-gpt2:interactive", "max_tokens": 400, "min_tokens": 400}
    _, metrics = gateway.get("/metrics")
    cancelled = series(metrics, "tritonsla_gateway_requests_total", outcome="cancelled")
    before = settled_tokens(served, "interactive")

    streaming = _open(gateway, {**long, "stream": True})
    response = streaming.getresponse()
    assert response.status == 200
    while not response.fp.readline().startswith(b"data: "):  # the first event came
        pass
    streaming.sock.close()  # the client goes away mid-stream
    streaming.close()

    whole = _open(gateway, long)
    time.sleep(0.5)  # the answer is under way
    whole.sock.close()
    whole.close()

    after = settled_tokens(served, "interactive")
    assert after - before < 400  # both together made less than one full answer
    _, metrics = gateway.get("/metrics")
    assert series(metrics, "tritonsla_gateway_requests_total", outcome="cancelled") == cancelled + 2
    assert series(metrics, "tritonsla_gateway_in_flight") == 0


# --- metrics and readiness -----------------------------------------------------------------------
def test_metrics_per_class_and_readiness(gateway: Gateway) -> None:
    gateway.openai().completions.create(model="tiny-gpt2:batch", prompt=PROMPT, max_tokens=3)
    status, body = gateway.get("/health/ready")
    assert status == 200
    assert json.loads(body) == {
        "ready": True,
        "classes": {"realtime": True, "interactive": True, "batch": True},
    }
    _, metrics = gateway.get("/metrics")
    assert series(metrics, "tritonsla_gateway_requests_total", sla="batch", outcome="ok") >= 1
    assert series(metrics, "tritonsla_gateway_e2e_seconds_count", sla="batch") >= 1
    assert series(metrics, "tritonsla_gateway_ttft_seconds_count", sla="batch") >= 1
    assert series(metrics, "tritonsla_gateway_completion_tokens_total", sla="batch") >= 1
    assert series(metrics, "tritonsla_gateway_prompt_tokens_total", sla="batch") >= len(
        gateway.tokenizer.encode(PROMPT)
    )
    verdicts = {
        slo
        for slo in ("met", "missed", "none")
        if series(metrics, "tritonsla_gateway_requests_total", sla="batch", slo=slo)
    }
    assert verdicts and verdicts <= {"met", "missed"}  # batch has an e2e objective
