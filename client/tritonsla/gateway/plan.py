"""From a validated OpenAI request to one routed SDK call (pure).

The class is chosen in this order: the `x-sla-class` header, or the model name
`<model>:<class>`; otherwise the SDK's policy decides from the `x-request-deadline-ms` header
and the `priority` field (`tritonsla.routing.policy.RoutingPolicy.choose_class`). The class is
known before anything is sent, so its limits are checked here (prompt tokens against
`engine.max_input_len`, prompt + output against `engine.max_seq_len`) and a request that breaks
them never reaches the engine. The plan then names the class to the SDK, whose admission control
still applies to its deadline.

Sampling follows OpenAI's defaults (see `sampling`). Prompt tokens are counted with the
deploy's tokenizer, as the class's preprocessing model counts them before the engine sees them
(same tokenizer, same call).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tritonsla.gateway.chat import ChatTemplate, no_template_error
from tritonsla.gateway.errors import bad_request
from tritonsla.gateway.schema import ChatRequest, CompletionRequest
from tritonsla.gateway_protocol import CLASS_HEADER, DEADLINE_HEADER
from tritonsla.routing.call import CallOptions
from tritonsla.routing.policy import Priority, RouteRequest, RoutingPolicy
from tritonsla.text.tokenizer import TextTokenizer

COMPLETION_MAX_TOKENS = 16
"""OpenAI's default `max_tokens` of /v1/completions; chat defaults to the context left."""


@dataclass(frozen=True)
class Plan:
    """One request as the gateway will run it."""

    sla: str
    model_id: str
    """`<model>:<class>`, the model the response names."""
    prompt: str
    prompt_tokens: int
    max_tokens: int
    stream: bool
    include_usage: bool
    stops: tuple[str, ...]
    options: CallOptions


@dataclass(frozen=True)
class Catalog:
    """The model name, its classes and the limits the gateway checks."""

    model: str
    policy: RoutingPolicy
    tokenizer: TextTokenizer
    chat_template: ChatTemplate | None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.policy.table.endpoints)

    def model_ids(self) -> list[str]:
        """What GET /v1/models lists: the model, then `<model>:<class>` per class."""
        return [self.model, *(f"{self.model}:{sla}" for sla in self.classes)]

    def _unbounded_tokens(self, prompt_tokens: int, explicit: str | None) -> int:
        """Tokens to route a request with a deadline but no max_tokens by, and then ask for:
        the room its explicit class has after the prompt, else the least any class has (so the
        deadline check sees the length really asked for, whichever class the policy picks)."""
        endpoints = self.policy.table.endpoints
        chosen = [endpoints[explicit]] if explicit in endpoints else endpoints.values()
        return max(1, min(e.profile.engine.max_seq_len - prompt_tokens for e in chosen))

    def plan_completion(self, body: CompletionRequest, headers: Mapping[str, str]) -> Plan:
        """The plan of a /v1/completions request; raises ApiError 400."""
        text = body.text()
        return self._plan(body, headers, text, "prompt", body.max_tokens or COMPLETION_MAX_TOKENS)

    def plan_chat(self, body: ChatRequest, headers: Mapping[str, str]) -> Plan:
        """The plan of a /v1/chat/completions request; raises ApiError 400."""
        explicit = self._explicit_class(body.model, headers)  # model errors first
        template = self.chat_template
        if template is None:
            raise no_template_error(self.model, self.tokenizer.folder)
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        prompt = template.render(messages)
        return self._plan(body, headers, prompt, "messages", body.limit(), explicit)

    def _plan(
        self,
        body: CompletionRequest | ChatRequest,
        headers: Mapping[str, str],
        prompt: str,
        prompt_field: str,
        max_tokens: int | None,
        explicit: str | None = None,
    ) -> Plan:
        explicit = explicit or self._explicit_class(body.model, headers)
        if body.stream_options is not None and not body.stream:
            raise bad_request(
                "stream_options", "`stream_options` is only allowed when `stream` is true"
            )
        deadline_ms = parse_deadline(headers.get(DEADLINE_HEADER))
        priority = priority_of(body.priority)
        tokens = len(self.tokenizer.encode(prompt))
        if tokens == 0:
            raise bad_request(prompt_field, f"`{prompt_field}` must not be empty")
        routed = max_tokens
        if routed is None and deadline_ms is not None:  # the deadline check needs a length
            routed = self._unbounded_tokens(tokens, explicit)
        route = RouteRequest(routed or 1, explicit, priority, deadline_ms)
        endpoint = self.policy.choose_class(route)
        engine = endpoint.profile.engine
        if tokens > engine.max_input_len:
            raise bad_request(
                prompt_field,
                f"`{prompt_field}` is {tokens} tokens; class `{endpoint.sla}` takes at most "
                f"{engine.max_input_len} (its engine's max_input_len). Shorten it",
                "context_length_exceeded",
            )
        room = engine.max_seq_len - tokens
        if max_tokens is None:  # the context left, or what a deadline was checked for
            max_tokens = room if routed is None else max(1, min(room, routed))
        elif max_tokens > room:
            raise bad_request(
                "max_completion_tokens"
                if getattr(body, "max_completion_tokens", None)
                else "max_tokens",
                f"the prompt is {tokens} tokens and {max_tokens} more were asked for; class "
                f"`{endpoint.sla}` holds {engine.max_seq_len} in all (its engine's "
                f"max_seq_len), so ask for at most {room}",
                "context_length_exceeded",
            )
        if body.min_tokens > max_tokens:
            raise bad_request(
                "min_tokens",
                f"`min_tokens` {body.min_tokens} exceeds the {max_tokens} tokens asked",
            )
        options = CallOptions(sla=endpoint.sla, max_tokens=max_tokens, stream=True)
        if body.min_tokens:
            options["min_tokens"] = body.min_tokens
        if priority is not None:
            options["priority"] = priority
        if deadline_ms is not None:
            options["deadline_s"] = deadline_ms / 1000
        options.update(sampling(body.temperature, body.top_p))
        if body.seed is not None:
            options["seed"] = body.seed
        stops = body.stops()
        if stops:
            options["stop_words"] = stops
        return Plan(
            endpoint.sla,
            f"{self.model}:{endpoint.sla}",
            prompt,
            tokens,
            max_tokens,
            body.stream,
            body.include_usage(),
            stops,
            options,
        )

    def _explicit_class(self, model: str, headers: Mapping[str, str]) -> str | None:
        """The class named by the model (`<model>:<class>`) and/or the x-sla-class header."""
        name, _, by_model = model.partition(":")
        if name != self.model or (by_model and by_model not in self.classes):
            raise bad_request(
                "model",
                f"unknown model `{model}`. Available: {', '.join(self.model_ids())}",
                "model_not_found",
            )
        by_header = headers.get(CLASS_HEADER)
        if by_header is None:
            return by_model or None
        if by_header not in self.classes:
            raise bad_request(
                CLASS_HEADER,
                f"unknown SLA class `{by_header}` in header {CLASS_HEADER}. "
                f"Available: {', '.join(self.classes)}",
                "unknown_class",
            )
        if by_model and by_model != by_header:
            raise bad_request(
                CLASS_HEADER,
                f"header {CLASS_HEADER}: {by_header} contradicts model `{model}`; name one class",
                "conflicting_class",
            )
        return by_header


def sampling(temperature: float | None, top_p: float | None) -> CallOptions:
    """OpenAI's sampling as engine inputs. Absent values take OpenAI's defaults (temperature 1,
    top_p 1: sampling from the whole distribution), not the engine's (greedy). Temperature 0 is
    greedy, sent as top_k 1 (TensorRT-LLM's greedy; vLLM does the same)."""
    if temperature == 0:
        return CallOptions(top_k=1)
    return CallOptions(
        temperature=1.0 if temperature is None else temperature,
        top_p=1.0 if top_p is None else top_p,
    )


def parse_deadline(value: str | None) -> float | None:
    """Milliseconds from the x-request-deadline-ms header (> 0); None when absent."""
    if value is None:
        return None
    try:
        deadline = float(value)
    except ValueError:
        deadline = math.nan
    if not (math.isfinite(deadline) and deadline > 0):
        raise bad_request(
            DEADLINE_HEADER,
            f"header {DEADLINE_HEADER} must be a number of milliseconds > 0; got {value!r}",
        )
    return deadline


def priority_of(value: int) -> Priority | None:
    """vLLM's integer priority (lower = more urgent) as the SDK's: < 0 high, > 0 low."""
    if value < 0:
        return "high"
    if value > 0:
        return "low"
    return None
