"""Request bodies: strict OpenAI fields, unsupported ones refused, errors naming the field."""

from __future__ import annotations

import json

import pytest

from tritonsla.gateway.errors import ApiError
from tritonsla.gateway.schema import ChatRequest, CompletionRequest, field_path, parse_body


def error_of(kind, body) -> ApiError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ApiError) as caught:
        parse_body(kind, raw)
    assert caught.value.status == 400
    return caught.value


def test_field_paths_drop_union_member_tags() -> None:
    assert field_path(("messages", 0, "content", "str")) == "messages[0].content"
    assert field_path(("messages", 1, "content", "list[TextPart]", 0, "type")) == (
        "messages[1].content[0].type"
    )
    assert field_path(("stop", "list[str]", 2)) == "stop[2]"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (b"", None, "JSON body"),
        (b"nul", None, "JSON body"),
        (b'"text"', None, "JSON object"),
        ({"model": "m", "prompt": "p", "max_tokens": 2.0}, "max_tokens", "integer"),
        ({"model": "m", "prompt": "p", "stream": "yes"}, "stream", "boolean"),
        ({"model": "m", "prompt": "p", "echo": True}, "echo", "not supported"),
        ({"model": "m", "prompt": "p", "logprobs": 2}, "logprobs", "not supported"),
        ({"model": "m", "prompt": "p", "best_of": 2}, "best_of", "not supported"),
        ({"model": "m", "prompt": "p", "presence_penalty": 0.5}, "presence_penalty", "penalty"),
        ({"model": "m", "prompt": "p", "logit_bias": {"1": 2}}, "logit_bias", "not supported"),
        ({"model": "m", "prompt": "p", "stop": ["a", ""]}, "stop", "empty"),
        (
            {"model": "m", "prompt": "p", "stream_options": {"x": 1}},
            "stream_options.x",
            "Unrecognized",
        ),
        ({"prompt": "p"}, "model", "required"),
    ],
)
def test_completion_bodies_refused(body, param, words) -> None:
    error = error_of(CompletionRequest, body)
    assert error.param == param and words in error.message, error


def test_chat_bodies() -> None:
    ok = ChatRequest.model_validate_json(
        json.dumps(
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    }
                ],
                "response_format": {"type": "text"},
                "tool_choice": "none",
            }
        )
    )
    assert ok.messages[0].text() == "ab" and ok.limit() is None
    error = error_of(
        ChatRequest,
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ],
        },
    )
    assert error.param == "messages[0].content[0].type", error
    assert "'text'" in error.message
    assert (
        error_of(
            ChatRequest,
            {"model": "m", "messages": [{"role": "user", "content": "a"}], "logprobs": True},
        ).param
        == "logprobs"
    )
    assert error_of(
        ChatRequest,
        {
            "model": "m",
            "messages": [{"role": "user", "content": "a"}],
            "response_format": {"type": "json_object"},
        },
    ).param == ("response_format.type")


def test_stops_and_usage_flags() -> None:
    body = CompletionRequest.model_validate(
        {
            "model": "m",
            "prompt": ["only"],
            "stop": "x",
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert (body.text(), body.stops(), body.include_usage()) == ("only", ("x",), True)
