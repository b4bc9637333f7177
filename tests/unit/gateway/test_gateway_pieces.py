"""Chat templates in the sandbox, stop sequences in streams, error statuses, SLO verdicts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from tritonsla.errors import ModelDataError
from tritonsla.gateway.app import EventStream
from tritonsla.gateway.chat import load_chat_template
from tritonsla.gateway.errors import ApiError, routing_failure
from tritonsla.gateway.metrics import GatewayMetrics, Timing, slo_verdict
from tritonsla.gateway.stops import StopFilter, trim
from tritonsla.profiles.schema import Slo
from tritonsla.routing.errors import (
    DeadlineUnmeetableError,
    FirstTokenTimeoutError,
    InferenceFailedError,
    ReplicaUnavailableError,
    ServerRejectedError,
    StreamBrokenError,
)

USER = [{"role": "user", "content": "Hi"}]


def write_config(folder: Path, **config) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


# --- chat templates -------------------------------------------------------------------------------
def test_template_sources_in_transformers_order(tmp_path: Path) -> None:
    assert load_chat_template(write_config(tmp_path / "none", eos_token="</s>")) is None
    plain = write_config(tmp_path / "plain", chat_template="{{ messages[0].content }}{{ eos }}")
    assert load_chat_template(plain).render(USER) == "Hi"
    named = write_config(
        tmp_path / "named",
        bos_token={"content": "<s>"},
        chat_template=[
            {"name": "tool_use", "template": "T"},
            {
                "name": "default",
                "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}",
            },
        ],
    )
    assert load_chat_template(named).render(USER) == "<s>Hi"
    (named / "chat_template.jinja").write_text("file:{{ messages|length }}")
    assert load_chat_template(named).render(USER) == "file:1"


def test_the_shipped_template_renders_roles(tokenizer_dir: Path) -> None:
    template = load_chat_template(tokenizer_dir)
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    assert template.render(messages) == "System: Be brief.\nUser: Hi\nAssistant:"


def test_the_sandbox_refuses_internals_and_mutation(tmp_path: Path) -> None:
    for name, source in [
        ("mro", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
        ("mutate", "{{ messages.append(1) }}"),
    ]:
        template = load_chat_template(write_config(tmp_path / name, chat_template=source))
        with pytest.raises(ApiError) as caught:
            template.render(USER)
        assert caught.value.status == 500 and caught.value.code == "chat_template_error"


def test_raise_exception_is_a_400_and_broken_templates_refuse_to_load(tmp_path: Path) -> None:
    strict = write_config(
        tmp_path / "strict",
        chat_template="{% if messages[0].role != 'system' %}"
        "{{ raise_exception('a system message must come first') }}{% endif %}",
    )
    with pytest.raises(ApiError) as caught:
        load_chat_template(strict).render(USER)
    assert (caught.value.status, caught.value.param) == (400, "messages")
    assert "a system message must come first" in caught.value.message
    with pytest.raises(ModelDataError, match="does not compile"):
        load_chat_template(write_config(tmp_path / "broken", chat_template="{% for %}"))


# --- stop sequences -------------------------------------------------------------------------------
def test_trim_cuts_at_the_earliest_stop() -> None:
    assert trim("abc. def\nx", ["\n", "."]) == ("abc", True)
    assert trim("abc", ["z"]) == ("abc", False)


def test_stop_filter_holds_back_what_could_start_a_stop() -> None:
    stops = StopFilter(["END", "\n\n"])
    assert stops.push("hello E") == "hello "
    assert stops.push("N") == ""
    assert stops.push("ough") == "ENough"  # not a stop after all: released
    assert stops.push(" fin\n") == " fin"
    assert stops.push("\nmore") == "" and stops.stopped
    assert stops.push("late") == "" and stops.finish() == ""
    tail = StopFilter(["END"])
    assert tail.push("xE") == "x" and tail.finish() == "E"
    assert StopFilter([]).push("anything") == "anything"


# --- statuses -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status", "outcome"),
    [
        (ServerRejectedError("queue full"), 429, "rejected"),
        (DeadlineUnmeetableError("realtime", 10, 500), 504, "rejected"),
        (FirstTokenTimeoutError(2.0, "h:1"), 504, "timeout"),
        (ReplicaUnavailableError("none up"), 503, "error"),
        (StreamBrokenError("cut", []), 502, "error"),
        (InferenceFailedError("bad"), 500, "error"),
    ],
)
def test_routing_errors_map_to_statuses(error, status, outcome) -> None:
    answer, label = routing_failure(error)
    assert (answer.status, label) == (status, outcome)
    assert set(answer.body()["error"]) == {"message", "type", "param", "code"}
    assert ("Retry-After" in answer.headers) == (status == 429)


# --- metrics --------------------------------------------------------------------------------------
def test_slo_verdicts() -> None:
    realtime = Slo(ttft_ms=500, itl_ms=150)
    assert slo_verdict(realtime, "ok", Timing(0.2, 0.1, 3.0)) == "met"
    assert slo_verdict(realtime, "ok", Timing(0.6, 0.1, 3.0)) == "missed"
    assert slo_verdict(realtime, "ok", Timing(0.2, None, 0.2)) == "met"  # one token: no gaps
    assert slo_verdict(realtime, "timeout", Timing()) == "missed"
    assert slo_verdict(realtime, "cancelled", Timing()) == "none"
    assert slo_verdict(Slo(min_output_tokens_per_s=5), "ok", Timing(9, 9, 9)) == "none"


def test_metric_families_and_labels() -> None:
    metrics = GatewayMetrics(("realtime", "batch"))
    metrics.started("realtime")
    metrics.ended("realtime", Slo(ttft_ms=500), "ok", Timing(0.1, 0.01, 0.5), 7, 12)
    metrics.started("batch")
    text = generate_latest(metrics.registry).decode()
    for line in [
        'tritonsla_gateway_requests_total{outcome="ok",sla="realtime",slo="met"} 1.0',
        'tritonsla_gateway_prompt_tokens_total{sla="realtime"} 7.0',
        'tritonsla_gateway_completion_tokens_total{sla="realtime"} 12.0',
        'tritonsla_gateway_in_flight{sla="realtime"} 0.0',
        'tritonsla_gateway_in_flight{sla="batch"} 1.0',
        'tritonsla_gateway_ttft_seconds_count{sla="realtime"} 1.0',
        'tritonsla_gateway_itl_seconds_count{sla="realtime"} 1.0',
        'tritonsla_gateway_e2e_seconds_count{sla="batch"} 0.0',
    ]:
        assert line in text, line


# --- a stream whose client left before it started ---------------------------------------------
def test_event_stream_closes_when_its_events_never_ran() -> None:
    started: list[bool] = []
    closed: list[bool] = []

    async def events():
        started.append(True)
        yield "never"

    async def on_close() -> None:
        closed.append(True)

    async def refuse(message: dict) -> None:
        raise OSError("client gone")

    async def receive() -> dict:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    response = EventStream(events(), on_close, ping=0)
    scope = {"type": "http", "method": "POST", "asgi": {"spec_version": "2.4"}}
    with pytest.raises(OSError):
        asyncio.run(response(scope, receive, refuse))
    assert (started, closed) == ([], [True])
