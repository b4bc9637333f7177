"""The app over an unreachable replica: what it answers without any server."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tritonsla.gateway import create_app
from tritonsla.profiles.loading import Deployment

KEY = "s3cret-key"


@pytest.fixture
def app_client(deployment: Deployment):
    with TestClient(create_app(deployment, replicas=["127.0.0.1:1"], api_key=KEY)) as client:
        yield client


def test_api_key_is_required_on_the_api_only(app_client: TestClient) -> None:
    missing = app_client.get("/v1/models")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "invalid_api_key"
    wrong = app_client.post("/v1/completions", headers={"Authorization": "Bearer nope"}, json={})
    assert wrong.status_code == 401
    models = app_client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert [m["id"] for m in models.json()["data"]] == [
        "tiny-gpt2",
        "tiny-gpt2:realtime",
        "tiny-gpt2:interactive",
        "tiny-gpt2:batch",
    ]
    assert app_client.get("/metrics").status_code == 200
    assert app_client.get("/health").json() == {"status": "ok"}


def test_no_replica_up_is_a_503_and_not_ready(app_client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "tiny-gpt2:realtime", "prompt": "Hi", "max_tokens": 2}
    for stream in (False, True):
        answer = app_client.post("/v1/completions", headers=auth, json={**body, "stream": stream})
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "no_replica"
    ready = app_client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "ready": False,
        "classes": {"realtime": False, "interactive": False, "batch": False},
    }
    metrics = app_client.get("/metrics").text
    assert 'tritonsla_gateway_requests_total{outcome="error",sla="realtime",slo="missed"} 2.0' in (
        metrics
    )


def test_unknown_paths_are_openai_errors(app_client: TestClient) -> None:
    answer = app_client.get("/v1/engines")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
