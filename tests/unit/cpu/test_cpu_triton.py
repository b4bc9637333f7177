"""Triton glue of the CPU engine: tensors <-> requests/events, model config, the Python model."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest
from cpukit import as_triton, greedy_reference, model_config, prompts

from tritonsla.cpu.errors import EngineConfigError, QueueFullError
from tritonsla.cpu.model import GPT2Model
from tritonsla.cpu.triton_config import settings_from_model_config
from tritonsla.cpu.triton_io import (
    event_to_tensors,
    request_from_tensors,
    stream_key_of,
    word_list,
)
from tritonsla.engine_request import FinishReason, InvalidRequestError, OutputEvent
from tritonsla.repo.render import ADAPTERS_DIR

ADAPTER = ADAPTERS_DIR / "tensorrt_llm_cpu" / "model.py"


def test_request_from_tensors_reads_every_contract_input() -> None:
    tensors = as_triton(
        [5, 6, 7, 0, 0],
        9,
        input_lengths=np.array([3], np.int32),  # trims padding
        end_id=np.array([2], np.int32),
        pad_id=np.array([0], np.int32),
        streaming=np.array([[True]]),
        runtime_top_k=np.array([4], np.int32),
        runtime_top_p=np.array([0.5], np.float32),
        temperature=np.array([0.7], np.float32),
        seed=np.array([123], np.uint64),
        repetition_penalty=np.array([1.1], np.float32),
        presence_penalty=np.array([0.2], np.float32),
        frequency_penalty=np.array([0.3], np.float32),
        min_tokens=np.array([2], np.int32),
        return_log_probs=np.array([True]),
        beam_width=np.array([1], np.int32),
        len_penalty=np.array([1.0], np.float32),
        stop_words_list=np.array([[[8, 9, 10, -1], [2, 3, -1, -1]]], np.int32),
        bad_words_list=np.array([[[11], [1]]], np.int32),
    )
    request = request_from_tensors(7, tensors, print)
    assert (request.request_id, request.input_ids, request.max_new_tokens) == (7, (5, 6, 7), 9)
    assert request.end_id == 2 and request.streaming and request.return_log_probs
    assert request.stop_words == ((8, 9), (10,))
    s = request.sampling
    assert (s.top_k, s.seed, s.min_tokens, s.bad_words) == (4, 123, 2, ((11,),))
    assert (s.top_p, s.temperature) == pytest.approx((0.5, 0.7))
    assert (s.repetition_penalty, s.presence_penalty, s.frequency_penalty) == pytest.approx(
        (1.1, 0.2, 0.3)
    )


def test_request_defaults_and_exclude_input_precedence() -> None:
    plain = request_from_tensors(1, as_triton([4], 2), print)
    assert not plain.streaming and plain.end_id is None and plain.sampling.greedy
    assert not plain.exclude_input_in_output
    assert request_from_tensors(
        1, as_triton([4], 2), print, exclude_input_in_output=True
    ).exclude_input_in_output
    override = as_triton([4], 2, exclude_input_in_output=np.array([False]))
    assert not request_from_tensors(
        1, override, print, exclude_input_in_output=True
    ).exclude_input_in_output


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"request_output_len": np.array([2])}, r"input `input_ids` is required"),
        ({"input_ids": np.array([[1]])}, r"input `request_output_len` is required"),
        (as_triton([1], 2) | {"input_ids": np.array([[1], [2]])}, r"batch size 2; send one"),
        (as_triton([1], 2, beam_width=np.array([4])), r"`beam_width` 4 is not supported"),
        (as_triton([1], 2, end_id=np.array([1, 2])), r"`end_id` must hold one value"),
        (
            as_triton([1], 2, stop_words_list=np.array([[[1, 2], [3, -1]]])),
            r"`stop_words_list` has offset 3 outside",
        ),
        (as_triton([1], 2, bad_words_list=np.array([[1, 2, 3]])), r"`bad_words_list` has shape"),
    ],
)
def test_malformed_requests_are_named(tensors: dict, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        request_from_tensors(1, tensors, print)


def test_word_list_decoding() -> None:
    assert (
        word_list(np.array([[[0], [-1]]], np.int32), "w") == ()
    )  # "no words" as preprocessing sends
    assert word_list(np.array([[3, 4, 5], [1, 3, -1]]), "w") == ((3,), (4, 5))
    assert word_list(None, "w") == ()


def test_event_to_tensors_shapes_and_types() -> None:
    event = OutputEvent("r", (1, 2, 3), (-0.5, -0.25), -0.75, True, FinishReason.LENGTH)
    out = event_to_tensors(event)
    assert out["output_ids"].dtype == np.int32 and out["output_ids"].tolist() == [[[1, 2, 3]]]
    assert out["sequence_length"].dtype == np.int32 and out["sequence_length"].tolist() == [[3]]
    assert out["cum_log_probs"].dtype == np.float32 and out["cum_log_probs"].tolist() == [[-0.75]]
    assert (
        out["output_log_probs"].shape == (1, 1, 2) and out["output_log_probs"].dtype == np.float32
    )
    empty = event_to_tensors(OutputEvent("r", (), (), 0.0, True, FinishReason.END_ID))
    assert empty["output_ids"].shape == (1, 1, 0) and empty["output_log_probs"].shape == (1, 1, 0)
    assert out["stream_key"].tolist() == [[b""]] and out["is_final"].tolist() == [[True]]
    step = OutputEvent("r", (4,), (), 0.0, False, None)
    keyed = event_to_tensors(step, b"k1")
    assert keyed["stream_key"].tolist() == [[b"k1"]] and keyed["is_final"].tolist() == [[False]]


def test_stream_key_of_reads_the_key_or_none() -> None:
    assert stream_key_of({"stream_key": np.array([[b"abc"]], dtype=np.object_)}) == b"abc"
    assert stream_key_of({}) == b""


def test_settings_from_model_config(tmp_path: Path) -> None:
    config = model_config(
        "assets/tiny-gpt2",
        gpt_model_type="inflight_fused_batching",
        precision="int8",
        batch_scheduler_policy="max_utilization",
        max_tokens_in_paged_kv_cache="2048",
        max_num_tokens="512",
        enable_chunked_context="true",
        exclude_input_in_output="1",
        max_input_len="100",
        max_seq_len="200",
        tokens_per_block="16",
    )
    settings = settings_from_model_config(config, tmp_path / "model_repo" / "realtime_tensorrt_llm")
    engine = settings.engine
    assert engine.checkpoint_dir == (tmp_path / "assets" / "tiny-gpt2").resolve()
    assert (engine.precision, engine.batch_scheduler_policy) == ("int8", "max_utilization")
    assert (engine.max_batch_size, engine.max_queue_size, engine.max_num_tokens) == (4, 8, 512)
    assert (engine.max_tokens_in_paged_kv_cache, engine.tokens_per_block) == (2048, 16)
    assert (engine.max_input_len, engine.max_seq_len) == (100, 200)
    assert engine.enable_chunked_context and settings.exclude_input_in_output
    minimal = settings_from_model_config(model_config("/abs/ckpt", precision=""), tmp_path / "m")
    assert minimal.engine.checkpoint_dir == Path("/abs/ckpt")
    assert minimal.engine.precision == "fp32" and not minimal.exclude_input_in_output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_transaction_policy": {"decoupled": False}}, r"must be decoupled"),
        ({"max_batch_size": 0}, r"`max_batch_size`: 0 disables batching"),
        ({"parameters": {}}, r"`gpt_model_path`: is not set"),
        (
            {"parameters": {"gpt_model_path": {"string_value": "${engine_dir}"}}},
            r"`gpt_model_path`: holds the unfilled template value",
        ),
    ],
)
def test_model_config_errors(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(EngineConfigError, match=message):
        settings_from_model_config(model_config("ckpt") | change, tmp_path)


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("max_num_tokens", "lots", r"`max_num_tokens`: 'lots' is not an integer"),
        ("enable_chunked_context", "yes", r"`enable_chunked_context`: 'yes' is not a boolean"),
        ("gpt_model_type", "V1", r"`gpt_model_type`: 'V1' is not supported"),
        ("batch_scheduler_policy", "static", r"'static' is not supported"),
    ],
)
def test_bad_parameter_values_are_named(
    tmp_path: Path, parameter: str, value: str, message: str
) -> None:
    with pytest.raises(EngineConfigError, match=message):
        settings_from_model_config(model_config("ckpt", **{parameter: value}), tmp_path)


# --- the Triton Python model, against a stand-in for triton_python_backend_utils -----------------
class FakeSender:
    def __init__(self) -> None:
        self.sent: list[tuple[object, int]] = []
        self.done = threading.Event()
        self.cancelled = False

    def send(self, response=None, flags: int = 0) -> None:
        self.sent.append((response, flags))
        if flags == 1:
            self.done.set()

    def is_cancelled(self) -> bool:
        return self.cancelled


class FakeRequest:
    def __init__(self, tensors: dict[str, np.ndarray], request_id: str = "") -> None:
        self.tensors = tensors
        self.sender = FakeSender()
        self.id = request_id

    def request_id(self) -> str:
        return self.id

    def get_response_sender(self) -> FakeSender:
        return self.sender


def fake_pb_utils() -> types.ModuleType:
    pb = types.ModuleType("triton_python_backend_utils")
    pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1

    class Tensor:
        def __init__(self, name: str, value: np.ndarray) -> None:
            self.name, self.value = name, value

        def as_numpy(self) -> np.ndarray:
            return self.value

    class TritonError:
        INTERNAL, INVALID_ARG, UNAVAILABLE = "INTERNAL", "INVALID_ARG", "UNAVAILABLE"

        def __init__(self, message: str, code: str) -> None:
            self.message, self.code = message, code

    class InferenceResponse:
        def __init__(self, output_tensors, error=None) -> None:
            self.outputs = {t.name: t.value for t in output_tensors}
            self.error = error

    class MetricFamily:
        GAUGE, COUNTER = "GAUGE", "COUNTER"

        def __init__(self, name: str, description: str, kind: str) -> None:
            self.name, self.kind, self.values = name, kind, {}

        def Metric(self, labels: dict[str, str]):  # pb_utils' name
            family = self
            key = tuple(sorted(labels.items()))

            class Metric:
                def increment(self, value: float) -> None:
                    assert family.kind == "GAUGE" or value >= 0, "a counter only grows"
                    family.values[key] = family.values.get(key, 0.0) + value

            return Metric()

    def get_input_tensor_by_name(request: FakeRequest, name: str):
        value = request.tensors.get(name)
        return None if value is None else Tensor(name, value)

    pb.Tensor, pb.TritonError, pb.InferenceResponse = Tensor, TritonError, InferenceResponse
    pb.MetricFamily = MetricFamily
    pb.get_input_tensor_by_name = get_input_tensor_by_name
    return pb


def load_adapter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: dict):
    """The Python model of the CPU engine, initialized with `config`."""
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", fake_pb_utils())
    spec = importlib.util.spec_from_file_location("tensorrt_llm_cpu_model", ADAPTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TritonPythonModel()
    model.initialize(
        {
            "model_config": json.dumps(config),
            "model_repository": str(tmp_path / "repo" / "m"),
            "model_name": "m",
            "model_version": "1",
        }
    )
    return model


@pytest.fixture
def triton_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkpoint_dir: Path):
    config = model_config(str(checkpoint_dir), tokens_per_block="8")
    model = load_adapter(monkeypatch, tmp_path, config)
    yield model
    model.finalize()


def test_python_model_reads_the_priority_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkpoint_dir: Path
) -> None:
    config = model_config(str(checkpoint_dir), waiting_queue_policy="priority")
    config["dynamic_batching"] |= {"priority_levels": "3", "default_priority_level": "2"}
    model = load_adapter(monkeypatch, tmp_path, config)
    try:
        served = FakeRequest(as_triton([1, 2], 2, priority=np.array([1], np.int32)))
        refused = FakeRequest(as_triton([1, 2], 2, priority=np.array([4], np.int32)))
        model.execute([served, refused])
        assert served.sender.done.wait(timeout=30) and refused.sender.done.wait(timeout=30)
        [(answer, _)] = served.sender.sent
        assert answer.error is None and answer.outputs["sequence_length"].tolist() == [[4]]
        [(error, _)] = refused.sender.sent
        assert error.error.code == "INVALID_ARG" and "priority levels" in error.error.message
    finally:
        model.finalize()


def test_python_model_streams_and_answers_through_the_response_sender(
    triton_model, model: GPT2Model
) -> None:
    prompt = prompts(4, [6])[0]
    expected = greedy_reference(model, prompt, 5)
    stream = FakeRequest(as_triton(prompt, 5, streaming=np.array([[True]])))
    whole = FakeRequest(as_triton(prompt, 5, return_log_probs=np.array([True])))
    bad = FakeRequest(as_triton(prompt, 500))
    assert triton_model.execute([stream, whole, bad]) is None
    for request in (stream, whole, bad):
        assert request.sender.done.wait(timeout=30)
    responses = stream.sender.sent
    assert [flags for _, flags in responses] == [0, 0, 0, 0, 1]
    assert [r.outputs["output_ids"].tolist() for r, _ in responses] == [[[[t]]] for t in expected]
    [(response, flags)] = whole.sender.sent
    assert flags == 1 and response.error is None
    assert response.outputs["output_ids"].tolist() == [[[*prompt, *expected]]]
    assert response.outputs["sequence_length"].tolist() == [[11]]
    assert response.outputs["output_log_probs"].shape == (1, 1, 5)
    [(error, flags)] = bad.sender.sent
    assert flags == 1 and error.error.code == "INVALID_ARG"
    assert "exceeds max_seq_len 128" in error.error.message


def test_python_model_publishes_counters_and_tensorrt_llm_gauges(triton_model) -> None:
    request = FakeRequest(as_triton([1, 2, 3], 4))
    triton_model.execute([request])
    assert request.sender.done.wait(timeout=30)
    families = triton_model.metric_families
    tokens = families["tritonsla_engine_generated_tokens_total"]
    assert tokens.kind == "COUNTER"
    assert tokens.values == {(("model", "m"), ("version", "1")): 4}
    requests = families["nv_trt_llm_request_metrics"]
    assert requests.kind == families["nv_trt_llm_kv_cache_block_metrics"].kind == "GAUGE"
    assert requests.values[(("model", "m"), ("request_type", "max"), ("version", "1"))] == 4


def test_python_model_maps_queue_full_and_cancellation(triton_model, monkeypatch) -> None:
    def full(request) -> None:
        raise QueueFullError("1 requests already wait")

    with monkeypatch.context() as patch:
        patch.setattr(triton_model.engine, "submit", full)
        rejected = FakeRequest(as_triton([1, 2], 3))
        triton_model.execute([rejected])
    [(response, flags)] = rejected.sender.sent
    assert flags == 1 and response.error.code == "UNAVAILABLE"
    monkeypatch.setattr("tritonsla.cpu.engine.CANCEL_POLL_SECONDS", 0.0)  # poll every step
    cancelled = FakeRequest(as_triton([1, 2], 120))
    cancelled.sender.cancelled = True
    triton_model.execute([cancelled])
    assert cancelled.sender.done.wait(timeout=30)
    assert cancelled.sender.sent == [(None, 1)]  # final flag only, no tensors
    stats = triton_model.engine.stats()
    assert stats.kv_blocks_used == 0 and stats.active == 0


def test_python_model_stop_request_cancels_the_request_with_its_id(triton_model) -> None:
    long = FakeRequest(as_triton([1, 2], 120, streaming=np.array([[True]])), request_id="r-9")
    other = FakeRequest(as_triton([3, 4], 4), request_id="r-10")
    triton_model.execute([long, other])
    stop = FakeRequest(
        {"input_ids": np.array([[1]], np.int32), "stop": np.array([[True]])}, request_id="r-9"
    )
    triton_model.execute([stop])
    assert stop.sender.sent == [(None, 1)]
    assert long.sender.done.wait(timeout=30) and other.sender.done.wait(timeout=30)
    streamed = [r for r, flags in long.sender.sent if r is not None]
    assert len(streamed) < 120  # stopped early
    assert long.sender.sent[-1] == (None, 1)
    [(answer, flags)] = other.sender.sent  # the request with another id is untouched
    assert flags == 1 and answer.outputs["sequence_length"].tolist() == [[6]]
    assert triton_model.request_ids.lookup("r-9") is None
