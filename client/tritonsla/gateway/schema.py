"""Request bodies of /v1/completions and /v1/chat/completions, validated as OpenAI does.

Unknown fields are refused (OpenAI answers "Unrecognized request argument"); fields OpenAI has
but this gateway cannot honour (n > 1, logprobs, penalties, tools, ...) are accepted only at
their neutral value, so a client never gets an answer that silently ignored what it asked.
Numbers are strict: `"max_tokens": "5"` or `5.0` is an error, as a JSON schema would say.

`priority` is vLLM's field: an integer, lower means more urgent (default 0). Below 0 the
request is high priority, above 0 low priority (routed to the batch class when no class and
no deadline is given), as `tritonsla.routing.policy` takes them. `min_tokens` is vLLM's too:
the engine generates at least that many tokens (its end token is ignored until then).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tritonsla.gateway.errors import ApiError, bad_request

MAX_STOPS = 4
"""OpenAI's limit on stop sequences."""
MAX_SEED = 2**64 - 1
"""The engine's `seed` is a UINT64."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _neutral(value: object, neutral: tuple, what: str) -> object:
    if value not in neutral:
        raise ValueError(f"{what} is not supported by this gateway; leave it out")
    return value


class StreamOptions(_Strict):
    include_usage: bool = False


class _Sampling(_Strict):
    """Fields both endpoints share."""

    model: str
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    priority: int = 0
    min_tokens: Annotated[int, Field(ge=0)] = 0

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences; got {len(stops)}")
        if any(not stop for stop in stops):
            raise ValueError("stop sequences must not be empty")
        return value

    @field_validator("n")
    @classmethod
    def _one(cls, value: int) -> int:
        return int(_neutral(value, (1,), f"n={value} (several choices)"))  # type: ignore[arg-type]

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, value: float) -> float:
        return float(_neutral(value, (0, 0.0), "a non-zero penalty"))  # type: ignore[arg-type]

    @field_validator("logit_bias")
    @classmethod
    def _no_bias(cls, value: dict | None) -> dict | None:
        if value:
            raise ValueError("logit_bias is not supported by this gateway; leave it out")
        return value

    def stops(self) -> tuple[str, ...]:
        """The stop sequences as a tuple (empty when none)."""
        stop = self.stop
        return (stop,) if isinstance(stop, str) else tuple(stop or ())

    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class CompletionRequest(_Sampling):
    """POST /v1/completions."""

    prompt: str | list[str]
    echo: bool = False
    best_of: int | None = None
    logprobs: int | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError(f"send one prompt per request; got a list of {len(value)}")
        return value

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, value: bool) -> bool:
        return bool(_neutral(value, (False,), "echo"))

    @field_validator("best_of")
    @classmethod
    def _no_best_of(cls, value: int | None) -> int | None:
        return _neutral(value, (None, 1), f"best_of={value}")  # type: ignore[return-value]

    @field_validator("logprobs", "suffix")
    @classmethod
    def _absent(cls, value: object) -> None:
        _neutral(value, (None,), "this field")
        return None

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def text(self) -> str:
        content = self.content
        return content if isinstance(content, str) else "".join(part.text for part in content)


class ResponseFormat(_Strict):
    type: Literal["text"]


class ChatRequest(_Sampling):
    """POST /v1/chat/completions."""

    messages: Annotated[list[Message], Field(min_length=1)]
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool = False
    top_logprobs: None = None
    response_format: ResponseFormat | None = None
    tools: list[dict] | None = None
    tool_choice: Literal["none"] | None = None
    parallel_tool_calls: bool | None = None

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, value: list[dict] | None) -> list[dict] | None:
        if value:
            raise ValueError("tool calling is not supported by this gateway; leave it out")
        return value

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool) -> bool:
        return bool(_neutral(value, (False,), "logprobs"))

    def limit(self) -> int | None:
        """Tokens asked for: `max_completion_tokens` (OpenAI's newer name), else `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens


Body = TypeVar("Body", CompletionRequest, ChatRequest)

_TYPE_TAG = re.compile(r"[\[\]-]|^(str|int|float|bool|list|dict|none)$")
"""Parts of a pydantic error location that name a union member rather than a field."""


def field_path(loc: tuple[str | int, ...]) -> str:
    """`('messages', 0, 'content', 'str')` -> `messages[0].content`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _TYPE_TAG.search(part):
            path += f".{part}" if path else part
    return path


def parse_body(kind: type[Body], raw: bytes) -> Body:
    """Validate a request body; raises ApiError 400 naming the first field at fault."""
    try:
        return kind.model_validate_json(raw or b"")
    except ValidationError as error:
        raise _first_problem(error) from None


def _first_problem(error: ValidationError) -> ApiError:
    """The first field at fault; of a union's failed members, the one that got furthest (an
    image part in `content` is reported at `content[0].type`, not as "not a string")."""
    problems = error.errors(include_url=False)
    top = problems[0]["loc"][:1]
    problem = max((p for p in problems if p["loc"][:1] == top), key=lambda p: len(p["loc"]))
    kind = problem["type"]
    if kind == "json_invalid":
        return bad_request(
            None,
            "We could not parse the JSON body of your request: "
            f"{problem['msg']}. Send a JSON object with Content-Type: application/json",
            "invalid_json",
        )
    param = field_path(tuple(problem["loc"]))
    if kind == "model_type" and not param:
        return bad_request(None, "the request body must be a JSON object", "invalid_json")
    if kind == "extra_forbidden":
        return bad_request(
            param, f"Unrecognized request argument supplied: {param}", "unknown_parameter"
        )
    if kind == "missing":
        return bad_request(param, f"`{param}` is required", "missing_required_parameter")
    message = str(problem["msg"]).removeprefix("Value error, ")
    return bad_request(param, f"invalid `{param}`: {message}")
