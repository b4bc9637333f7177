"""Waiting for a started server to become ready, and reporting why it did not."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from tritonsla.errors import ServerError
from tritonsla.server.probe import is_ready, serves_metrics

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
