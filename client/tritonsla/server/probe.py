"""Asking a running server over HTTP: readiness and the model repository index."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from tritonsla.errors import ServerError
from tritonsla.server.command import restricted_headers


@dataclass(frozen=True)
class ModelEntry:
    """One row of the repository index (POST /v2/repository/index)."""

    name: str
    version: str
    state: str
    reason: str = ""


def _answers_200(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # URLError and HTTPError are OSErrors
        return False


def is_ready(http_url: str, timeout: float = 1.0) -> bool:
    """True when GET /v2/health/ready answers 200."""
    return _answers_200(f"{http_url}/v2/health/ready", timeout)


def serves_metrics(metrics_url: str, timeout: float = 1.0) -> bool:
    """True when the metrics endpoint answers 200 (tritonserver opens it after HTTP and gRPC)."""
    return _answers_200(metrics_url, timeout)


def repository_index(
    http_url: str, admin_key: str | None, timeout: float = 5.0
) -> list[ModelEntry]:
    """The models the server knows, with their state (needs the key of the restricted API)."""
    request = urllib.request.Request(
        f"{http_url}/v2/repository/index",
        data=b"{}",
        headers={"Content-Type": "application/json", **restricted_headers(admin_key)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            rows = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise ServerError(
            f"repository index of {http_url} refused ({error.code}): {detail}"
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise ServerError(f"cannot reach {http_url}: {error}") from None
    return [
        ModelEntry(
            name=row["name"],
            version=row.get("version", ""),
            state=row.get("state", ""),
            reason=row.get("reason", ""),
        )
        for row in rows
    ]
