"""Asking a running server over HTTP (readiness, metrics, the model repository index), and
waiting for a started one to become ready, with a rich spinner, or reporting from its log why it
did not.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

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


# --- waiting for a started server -----------------------------------------------------------------

ProgressHook = Callable[[float], None]
"""Called while waiting, with the seconds elapsed since the start."""

TAIL_LINES = 30
ERROR_LINES = 10
_ERROR_LINE = re.compile(r"E\d{4} ")  # glog-style severity prefix of tritonserver's errors


def failure_report(path: Path) -> str:
    """The log's error lines missing from its tail (often pushed out by tables), then the tail."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    tail = lines[-TAIL_LINES:]
    errors = [line for line in lines[:-TAIL_LINES] if _ERROR_LINE.match(line)][-ERROR_LINES:]
    report = f"Last lines of {path}:\n" + "\n".join(tail)
    if errors:
        report = "Errors logged earlier:\n" + "\n".join(errors) + "\n" + report
    return report


def wait_until_ready(
    http_url: str,
    *,
    exit_code: Callable[[], int | None],
    log_file: Path,
    timeout: float,
    on_progress: ProgressHook | None = None,
    poll_interval: float = 0.1,
    metrics_url: str | None = None,
) -> float:
    """Poll readiness until ready (and, given `metrics_url`, until metrics answer too: the
    server opens that endpoint last, so "ready" alone can precede it); return the seconds it took.

    Raise ServerError with the log tail when the process exits (`exit_code()` not None) or
    `timeout` passes first. The caller stops the process.
    """
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if is_ready(http_url) and (metrics_url is None or serves_metrics(metrics_url)):
            return elapsed
        code = exit_code()
        if code is not None:
            raise ServerError(
                f"tritonserver exited with code {code} while starting. {failure_report(log_file)}"
            )
        if elapsed >= timeout:
            raise ServerError(
                f"tritonserver was not ready at {http_url} after {timeout:.0f} s. Try a longer "
                f"startup timeout. {failure_report(log_file)}"
            )
        if on_progress is not None:
            on_progress(elapsed)
        time.sleep(poll_interval)


@contextmanager
def startup_spinner(message: str, console: Console | None = None) -> Iterator[ProgressHook]:
    """Show a spinner with `message` and the elapsed seconds; yield the hook that updates it."""
    with (console or Console(stderr=True)).status(message) as status:
        yield lambda elapsed: status.update(f"{message} ({elapsed:.0f} s)")
