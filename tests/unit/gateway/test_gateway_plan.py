"""Class choice, limits and SDK options of gateway requests (tritonsla.gateway.plan)."""

from __future__ import annotations

import pytest

from tritonsla.gateway.errors import ApiError
from tritonsla.gateway.plan import Catalog, parse_deadline, priority_of, sampling
from tritonsla.gateway.schema import ChatRequest, CompletionRequest
from tritonsla.routing.policy import RouteRequest


def completion(**fields) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "tiny-gpt2", "prompt": "Hello", **fields})


def refused(call, param: str, words: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    assert (caught.value.status, caught.value.param) == (400, param), caught.value
    assert words in caught.value.message
    return caught.value


def test_the_header_or_the_model_suffix_names_the_class(catalog: Catalog) -> None:
    assert catalog.plan_completion(completion(), {"x-sla-class": "batch"}).sla == "batch"
    assert catalog.plan_completion(completion(model="tiny-gpt2:realtime"), {}).sla == "realtime"
    both = catalog.plan_completion(completion(model="tiny-gpt2:batch"), {"x-sla-class": "batch"})
    assert (both.sla, both.model_id) == ("batch", "tiny-gpt2:batch")


def test_without_a_class_the_sdk_policy_decides_by_deadline_and_priority(
    catalog: Catalog,
) -> None:
    default = catalog.plan_completion(completion(), {})
    assert default.sla == catalog.policy.default_sla == "interactive"
    assert catalog.plan_completion(completion(priority=5), {}).sla == "batch"
    urgent = catalog.plan_completion(completion(max_tokens=4), {"x-request-deadline-ms": "1500"})
    assert urgent.sla == "realtime"  # 500 + 3 x 150 ms fits 1.5 s; interactive's 8 s does not
    assert urgent.options["deadline_s"] == 1.5
    assert "priority" not in default.options


def test_vllm_priority_polarity_lower_is_more_urgent() -> None:
    assert (priority_of(-1), priority_of(0), priority_of(3)) == ("high", None, "low")


def test_options_carry_sampling_stops_and_the_class(catalog: Catalog) -> None:
    plan = catalog.plan_completion(
        completion(max_tokens=8, temperature=0.5, top_p=0.9, seed=3, stop="\n", min_tokens=2),
        {"x-sla-class": "realtime"},
    )
    assert plan.options == {
        "sla": "realtime",
        "max_tokens": 8,
        "stream": True,
        "min_tokens": 2,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 3,
        "stop_words": ("\n",),
    }
    assert plan.stops == ("\n",) and plan.prompt_tokens == len(catalog.tokenizer.encode("Hello"))


def test_sampling_follows_openai_defaults() -> None:
    assert sampling(None, None) == {"temperature": 1.0, "top_p": 1.0}
    assert sampling(0.7, None) == {"temperature": 0.7, "top_p": 1.0}
    assert sampling(None, 0.5) == {"temperature": 1.0, "top_p": 0.5}
    assert sampling(0.0, 0.5) == {"top_k": 1}  # greedy


def test_limits_of_the_chosen_class(catalog: Catalog) -> None:
    long = "word " * 300
    refused(lambda: catalog.plan_completion(completion(prompt=long), {}), "prompt", "max_input_len")
    refused(
        lambda: catalog.plan_completion(completion(max_tokens=510), {}), "max_tokens", "at most"
    )
    chat = ChatRequest.model_validate(
        {
            "model": "tiny-gpt2",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_completion_tokens": 600,
        }
    )
    refused(lambda: catalog.plan_chat(chat, {}), "max_completion_tokens", "max_seq_len")


def test_chat_defaults_to_the_context_left(catalog: Catalog) -> None:
    chat = ChatRequest.model_validate(
        {"model": "tiny-gpt2:realtime", "messages": [{"role": "user", "content": "Hi"}]}
    )
    plan = catalog.plan_chat(chat, {})
    assert plan.prompt == "User: Hi\nAssistant:"
    assert plan.max_tokens == 512 - plan.prompt_tokens  # realtime's max_seq_len


def test_chat_without_max_tokens_is_routed_by_the_length_it_asks_for(catalog: Catalog) -> None:
    # Routed as if it wanted 1 token, a deadline would pick a class that then gets thousands
    # of tokens asked of it; now the class is chosen for the tokens really asked for.
    chat = ChatRequest.model_validate(
        {"model": "tiny-gpt2", "messages": [{"role": "user", "content": "Hi"}]}
    )
    plan = catalog.plan_chat(chat, {"x-request-deadline-ms": "60000"})
    rooms = {
        sla: e.profile.engine.max_seq_len - plan.prompt_tokens
        for sla, e in catalog.policy.table.endpoints.items()
    }
    assert plan.max_tokens == min(rooms.values())
    routed = catalog.policy.choose_class(RouteRequest(plan.max_tokens, None, None, 60000))
    assert plan.sla == routed.sla
    free = catalog.plan_chat(chat, {})  # no deadline: the chosen class's whole context
    assert free.max_tokens == rooms[free.sla]


def test_unknown_models_classes_and_headers(catalog: Catalog) -> None:
    refused(
        lambda: catalog.plan_completion(completion(model="gpt-4"), {}),
        "model",
        "Available: tiny-gpt2, tiny-gpt2:realtime",
    )
    refused(
        lambda: catalog.plan_completion(completion(), {"x-sla-class": "gold"}),
        "x-sla-class",
        "Available: realtime, interactive, batch",
    )
    refused(
        lambda: catalog.plan_completion(
            completion(model="tiny-gpt2:batch"), {"x-sla-class": "realtime"}
        ),
        "x-sla-class",
        "contradicts",
    )
    for bad in ("0", "-3", "soon", "nan", "inf"):
        refused(lambda bad=bad: parse_deadline(bad), "x-request-deadline-ms", "milliseconds")
    assert parse_deadline(None) is None


def test_a_model_without_a_chat_template_gets_a_clear_400(catalog: Catalog) -> None:
    bare = Catalog(catalog.model, catalog.policy, catalog.tokenizer, None)
    chat = ChatRequest.model_validate(
        {"model": "tiny-gpt2", "messages": [{"role": "user", "content": "Hi"}]}
    )
    error = refused(lambda: bare.plan_chat(chat, {}), "messages", "has no chat template")
    assert error.code == "chat_template_missing" and "/v1/completions" in error.message
