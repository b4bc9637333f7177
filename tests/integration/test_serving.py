"""The rendered CPU repository served by the real bundled tritonserver: every model loads, the
ensembles stream over gRPC, and Triton's HTTP generate endpoints answer."""

from __future__ import annotations

import json
import urllib.request

import pytest
import tritonclient.http as httpclient

from tests.integration.grpc_helpers import generate
from tritonsla import contract

pytestmark = pytest.mark.integration
PROFILES = ("realtime", "interactive", "batch")
PROMPT = "The quick brown fox jumps over the lazy dog because"


def test_every_rendered_model_is_ready(cpu_server):
    client = httpclient.InferenceServerClient(cpu_server.endpoints.http_address)
    names = [contract.model_name(p, r) for p in PROFILES for r in contract.MODEL_ROLES]
    assert len(names) == 15
    assert {name: client.is_model_ready(name) for name in names} == dict.fromkeys(names, True)


@pytest.mark.parametrize("profile", PROFILES)
def test_grpc_stream_is_incremental_and_matches_non_streaming(cpu_server, profile):
    model = contract.model_name(profile, "ensemble")
    url = cpu_server.endpoints.grpc_address
    streamed = generate(url, model, PROMPT, max_tokens=24, stream=True)
    whole = generate(url, model, PROMPT, max_tokens=24, stream=False)
    assert streamed.error is None and whole.error is None
    assert len(streamed.texts) >= 12  # roughly one response per token
    assert len(whole.texts) == 1
    assert streamed.times[0] < streamed.times[-1]
    assert streamed.text == whole.text


def _post(url: str, body: dict) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def test_http_generate_and_generate_stream(cpu_server):
    base = f"{cpu_server.endpoints.http_url}/v2/models/interactive_ensemble"
    body = {"text_input": PROMPT, "max_tokens": 12}
    whole = json.loads(_post(f"{base}/generate", body))
    assert whole["model_name"] == "interactive_ensemble" and whole["text_output"]
    events = [
        json.loads(line[len(b"data: ") :])
        for line in _post(f"{base}/generate_stream", {**body, "stream": True}).splitlines()
        if line.startswith(b"data: ")
    ]
    assert len(events) >= 6
    assert "".join(e["text_output"] for e in events) == whole["text_output"]


@pytest.mark.parametrize("profile", PROFILES)
def test_bls_returns_the_ensembles_text(cpu_server, profile):
    url = cpu_server.endpoints.grpc_address
    ensemble = generate(url, contract.model_name(profile, "ensemble"), PROMPT, 16, stream=False)
    bls = generate(url, contract.model_name(profile, "tensorrt_llm_bls"), PROMPT, 16, stream=False)
    bls_streamed = generate(url, contract.model_name(profile, "tensorrt_llm_bls"), PROMPT, 16)
    assert ensemble.error is None and bls.error is None and bls_streamed.error is None
    assert bls.text == ensemble.text == bls_streamed.text
