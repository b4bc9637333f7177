"""Reading the metrics endpoints (the I/O edge of the monitor).

The gateway's `/metrics` (prometheus_client) and each Triton server's metrics port are read in
turn, each with its own timeout; an endpoint that cannot be read is reported in the view and
the others still count.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from tritonsla.monitor.scrape import Scrape, merge, parse_samples
from tritonsla.monitor.view import Source


@dataclass(frozen=True)
class MetricsEndpoint:
    """A metrics URL and whose it is."""

    kind: Literal["gateway", "triton"]
    url: str


def metrics_url(url: str) -> str:
    """`url` with path `/metrics` when it has none or is the OpenAI base (`/v1`):
    `http://127.0.0.1:9000` and `http://127.0.0.1:9000/v1` -> `http://127.0.0.1:9000/metrics`."""
    parts = urllib.parse.urlsplit(url)
    if parts.path.rstrip("/") in ("", "/v1"):
        return urllib.parse.urlunsplit(parts._replace(path="/metrics"))
    return url


def fetch_text(url: str, timeout: float) -> str:
    """The body of GET `url`."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8", errors="replace")


def scrape(
    endpoints: Sequence[MetricsEndpoint],
    timeout: float = 2.0,
    fetch: Callable[[str, float], str] = fetch_text,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Scrape, tuple[Source, ...]]:
    """One Scrape of every endpoint, and each endpoint's state (its error, if any)."""
    parts = []
    sources = []
    for endpoint in endpoints:
        try:
            parts.append(parse_samples(fetch(endpoint.url, timeout)))
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", None) or error
            sources.append(Source(endpoint.kind, endpoint.url, f"cannot read it ({reason})"))
            continue
        sources.append(Source(endpoint.kind, endpoint.url))
    return merge(clock(), parts), tuple(sources)
