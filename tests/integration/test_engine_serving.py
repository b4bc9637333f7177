"""The CPU engine under pressure, through the real server: KV exhaustion queues, a full queue
rejects cleanly, a cancelled stream frees its slot, and the engine's gauges show it."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import tritonclient.grpc as grpcclient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import variant_deploy
from tests.integration.grpc_helpers import generate, text_inputs

pytestmark = pytest.mark.integration
PROMPT = "Twelve little words make a prompt that is long enough to fill a few cache blocks"


def engine_gauges(metrics_url: str, model: str) -> dict[str, float]:
    """The tritonsla_engine_* series of `model` from Triton's metrics endpoint."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    pattern = re.compile(rf'^(tritonsla_engine_\w+)\{{model="{model}",[^}}]*\}} (\S+)$', re.M)
    return {name: float(value) for name, value in pattern.findall(text)}


def trt_llm_metrics(metrics_url: str, model: str) -> dict[str, float]:
    """TensorRT-LLM's request and KV-block series of `model`, by their type label's value."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("nv_trt_llm_"):
            for sample in family.samples:
                if sample.labels.get("model") == model:
                    kind = sample.labels.get("request_type") or sample.labels["kv_cache_block_type"]
                    found[f"{family.name}.{kind}"] = sample.value
    return found


def wait_for(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_kv_exhaustion_queues_instead_of_failing(serve, tmp_path):
    # 8 requests of ~18 + 96 tokens need ~8 x 4 = 32 blocks; the cache holds 8 blocks (256
    # tokens): at most two run at once, the rest wait for blocks. Nothing may fail.
    overrides = {
        "batch": {
            "engine": {"kv_cache": {"max_tokens": 256}, "max_seq_len": 256, "max_input_len": 128}
        }
    }
    served = serve(deploy=variant_deploy(tmp_path / "kv", ["batch"], overrides))
    url = served.endpoints.grpc_address
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda i: generate(url, "batch_ensemble", f"{PROMPT} {i}", max_tokens=96), range(8)
            )
        )
    assert [r.error for r in results] == [None] * 8
    assert all(r.text for r in results)
    gauges = engine_gauges(served.endpoints.metrics_url, "batch_tensorrt_llm")
    assert gauges["tritonsla_engine_kv_blocks_free"] == 8
    assert gauges["tritonsla_engine_active_requests"] == 0
    trt_llm = trt_llm_metrics(served.endpoints.metrics_url, "batch_tensorrt_llm")
    assert trt_llm == {
        "nv_trt_llm_request_metrics.active": 0,
        "nv_trt_llm_request_metrics.scheduled": 0,
        "nv_trt_llm_request_metrics.waiting": 0,
        "nv_trt_llm_request_metrics.max": served.deployment.profiles[
            "batch"
        ].batching.max_batch_size,
        "nv_trt_llm_kv_cache_block_metrics.max": 8,
        "nv_trt_llm_kv_cache_block_metrics.free": 8,
        "nv_trt_llm_kv_cache_block_metrics.used": 0,
        "nv_trt_llm_kv_cache_block_metrics.tokens_per": 32,
        "nv_trt_llm_kv_cache_block_metrics.fraction": 0,
    }


def test_full_queue_rejects_cleanly(serve, tmp_path):
    # realtime: 4 in flight, a queue of 8. Twenty-four long requests at once: the overflow is
    # answered UNAVAILABLE at once, the admitted ones complete.
    served = serve(deploy=variant_deploy(tmp_path / "queue", ["realtime"]))
    url = served.endpoints.grpc_address
    with ThreadPoolExecutor(24) as pool:
        results = list(
            pool.map(
                lambda i: generate(url, "realtime_ensemble", f"{PROMPT} {i}", max_tokens=128),
                range(24),
            )
        )
    rejected = [r for r in results if r.error is not None]
    served_ok = [r for r in results if r.error is None]
    assert rejected, "nothing was rejected: the queue bound is not enforced"
    assert len(served_ok) >= 4 + 8 - 4  # the batch and most of the queue were admitted
    for result in rejected:
        # a streamed error carries Triton's message, not a gRPC status code: the queue was full,
        # or (on a slow machine) a request waited past the realtime queue's REJECT timeout
        message = result.error.message()
        assert "Exceeds maximum queue size" in message or "Request timeout expired" in message, (
            message
        )
        assert result.texts == []
    # Triton 2.51 counts a queue rejection inside an ensemble as the ensemble's failure with
    # reason OTHER, not as REJECTED of the composing model (routers must not rely on REJECTED).
    text = urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()
    failures = re.search(
        r'nv_inference_request_failure\{model="realtime_ensemble",reason="OTHER",'
        r'version="1"\} (\d+)',
        text,
    )
    assert failures and int(failures.group(1)) >= len(rejected)


def test_cancelled_stream_frees_its_slot(serve, tmp_path):
    # Through the BLS: it turns the client's cancellation into TensorRT-LLM's `stop` request.
    # (Triton 2.51 does not pass a cancellation on to an ensemble's running composing model.)
    # A 960-token answer takes the engine well over a second; the stream is cancelled as soon
    # as its first tokens arrive, so the engine must stop long before the end.
    overrides = {"realtime": {"engine": {"max_seq_len": 1024, "max_input_len": 256}}}
    served = serve(deploy=variant_deploy(tmp_path / "cancel", ["realtime"], overrides))
    url, metrics = served.endpoints.grpc_address, served.endpoints.metrics_url
    model = "realtime_tensorrt_llm"
    client = grpcclient.InferenceServerClient(url)
    arrived: list = []
    client.start_stream(callback=lambda result, error: arrived.append((result, error)))
    client.async_stream_infer(
        "realtime_tensorrt_llm_bls",
        text_inputs(PROMPT, 960, True),
        request_id=uuid.uuid4().hex,
        enable_empty_final_response=True,
    )
    started = wait_for(lambda: len(arrived) >= 2)
    assert started, f"stream never started: {[e.message() for _, e in arrived if e is not None]}"
    client.stop_stream(cancel_requests=True)
    client.close()

    def freed() -> bool:
        gauges = engine_gauges(metrics, model)
        return (
            gauges["tritonsla_engine_active_requests"] == 0
            and gauges["tritonsla_engine_kv_blocks_used"] == 0
        )

    assert wait_for(freed), engine_gauges(metrics, model)
    assert engine_gauges(metrics, model)["tritonsla_engine_generated_tokens_total"] < 860
    after = generate(url, "realtime_tensorrt_llm_bls", PROMPT, max_tokens=8)
    assert after.error is None and after.text
