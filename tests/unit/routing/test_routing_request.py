"""Requests as Triton tensors and messages (typed by the contract), responses parsed, calls
validated, timeouts typed."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import service_pb2

from tritonsla.routing.call import make_call
from tritonsla.routing.request import (
    GenerateRequest,
    Reply,
    Sampling,
    build_inputs,
    build_request,
    parse_response,
    stop_request,
)
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout, as_timeout


def _tensors(request: GenerateRequest) -> dict[str, tuple[str, list[int], np.ndarray]]:
    found = {}
    for tensor in build_inputs(request):
        proto = tensor._get_tensor()
        raw = tensor._get_content()
        found[proto.name] = (proto.datatype, list(proto.shape), raw)
    return found


def test_required_inputs_carry_a_batch_dimension():
    tensors = _tensors(GenerateRequest("héllo", 16, True, "r1"))
    assert {name: spec[:2] for name, spec in tensors.items()} == {
        "text_input": ("BYTES", [1, 1]),
        "max_tokens": ("INT32", [1, 1]),
        "stream": ("BOOL", [1, 1]),
    }
    assert tensors["text_input"][2].endswith("héllo".encode())
    assert np.frombuffer(tensors["max_tokens"][2], np.int32).tolist() == [16]


def test_sampling_inputs_use_the_contract_types():
    sampling = Sampling(
        temperature=0.7,
        top_k=5,
        top_p=0.9,
        seed=2**63,
        end_id=50256,
        stop_words=("\n\n", "END"),
        bad_words=(),
    )
    tensors = _tensors(GenerateRequest("p", 4, False, "r2", sampling))
    assert {
        name: spec[:2]
        for name, spec in tensors.items()
        if name not in {"text_input", "max_tokens", "stream"}
    } == {
        "temperature": ("FP32", [1, 1]),
        "top_k": ("INT32", [1, 1]),
        "top_p": ("FP32", [1, 1]),
        "seed": ("UINT64", [1, 1]),
        "end_id": ("INT32", [1, 1]),
        "stop_words": ("BYTES", [1, 2]),  # an empty word list is not sent
    }
    assert np.frombuffer(tensors["seed"][2], np.uint64).tolist() == [2**63]


def test_max_tokens_must_be_positive_and_min_tokens_within_it():
    with pytest.raises(ValueError, match="`max_tokens` must be >= 1; got 0"):
        GenerateRequest("p", 0, True, "r")
    with pytest.raises(ValueError, match=r"`min_tokens` must be in 0\.\.max_tokens \(4\); got 5"):
        GenerateRequest("p", 4, True, "r", Sampling(min_tokens=5))


def test_the_stream_message_matches_the_tensors_and_asks_for_token_counts():
    request = GenerateRequest("héllo", 16, True, "r3", Sampling(min_tokens=16))
    message = build_request(request, "realtime_ensemble", priority=2, timeout_us=5000)
    tensors = _tensors(request)
    assert message.model_name == "realtime_ensemble" and message.id == "r3"
    assert [(t.name, t.datatype, list(t.shape)) for t in message.inputs] == [
        (name, spec[0], spec[1]) for name, spec in tensors.items()
    ]
    assert list(message.raw_input_contents) == [spec[2] for spec in tensors.values()]
    assert [output.name for output in message.outputs] == ["text_output", "output_log_probs"]
    parameters = message.parameters
    assert parameters["priority"].uint64_param == 2
    assert parameters["timeout"].int64_param == 5000
    assert parameters["triton_enable_empty_final_response"].bool_param

    other = build_request(request, "echo", contract=False)  # all outputs; no priority or timeout
    assert not other.outputs and set(other.parameters) == {"triton_enable_empty_final_response"}


def test_a_stop_request_names_the_live_request_and_asks_for_nothing_back():
    message = stop_request("realtime_tensorrt_llm", "r4")
    assert (message.model_name, message.id) == ("realtime_tensorrt_llm", "r4")
    assert [t.name for t in message.inputs][-1] == "stop"
    assert message.raw_input_contents[-1] == b"\x01" and not message.parameters


def _response(
    text: bytes | None, tokens: int | None, final: bool
) -> service_pb2.ModelInferResponse:
    response = service_pb2.ModelInferResponse(model_name="m")
    if tokens is not None:
        response.outputs.add(name="output_log_probs", datatype="FP32", shape=[1, 1, tokens])
        response.raw_output_contents.append(np.zeros(tokens, np.float32).tobytes())
    if text is not None:
        response.outputs.add(name="text_output", datatype="BYTES", shape=[1, 1])
        response.raw_output_contents.append(len(text).to_bytes(4, "little") + text)
    if final:
        response.parameters["triton_final_response"].bool_param = True
    return response


def test_responses_as_text_tokens_and_final_flag():
    assert parse_response(_response("é".encode(), 2, final=False)) == Reply("é", 2, False)
    assert parse_response(_response(b"", 1, final=True)) == Reply("", 1, True)  # held back text
    assert parse_response(_response(b"x", None, final=False)) == Reply("x", None, False)
    assert parse_response(_response(None, None, final=True)) == Reply(None, None, True)


def test_timeout_phases_default_and_override():
    timeout = Timeout(30.0, connect=2.0)
    assert (timeout.connect, timeout.first_token, timeout.total) == (2.0, 30.0, 30.0)
    assert as_timeout(5, DEFAULT_TIMEOUT) == Timeout(5.0)
    assert as_timeout(None, timeout) is timeout
    with pytest.raises(ValueError, match="Timeout `first_token` must be > 0 seconds; got 0"):
        Timeout(10, first_token=0)


def test_call_budget_is_the_deadline_when_shorter():
    call = make_call("p", Timeout(30.0), deadline_s=2.5, max_tokens=8, sla="realtime")
    assert call.budget_s == 2.5
    assert call.route.deadline_ms == 2500 and call.route.sla == "realtime"
    assert 0 < call.remaining_s() <= 2.5
    assert make_call("p", Timeout(3.0), deadline_s=60).budget_s == 3.0
    assert len(make_call("p", Timeout(3.0)).request.request_id) == 32


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"priority": "urgent"},
            ValueError,
            "`priority` 'urgent' is not one of: high, normal, low",
        ),
        ({"deadline_s": 0}, ValueError, "`deadline_s` must be > 0 seconds"),
        ({"max_token": 5}, TypeError, r"unknown argument\(s\) max_token\. Available: allow_spill"),
    ],
)
def test_call_arguments_are_checked(options, error, message):
    with pytest.raises(error, match=message):
        make_call("p", DEFAULT_TIMEOUT, **options)
