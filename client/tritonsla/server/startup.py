"""Waiting for a started server to become ready, and reporting why it did not."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from tritonsla.errors import ServerError
from tritonsla.server.probe import is_ready

ProgressHook = Callable[[float], None]
"""Called while waiting, with the seconds elapsed since the start."""

TAIL_LINES = 30


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of `path` ('' when it does not exist)."""
    try:
        with open(path, errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip("\n")
    except FileNotFoundError:
        return ""


def wait_until_ready(
    http_url: str,
    *,
    exit_code: Callable[[], int | None],
    log_file: Path,
    timeout: float,
    on_progress: ProgressHook | None = None,
    poll_interval: float = 0.1,
) -> float:
    """Poll readiness until ready; return the seconds it took.

    Raise ServerError with the log tail when the process exits (`exit_code()` not None) or
    `timeout` passes first. The caller stops the process.
    """
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if is_ready(http_url):
            return elapsed
        code = exit_code()
        if code is not None:
            raise ServerError(
                f"tritonserver exited with code {code} while starting. "
                f"Last lines of {log_file}:\n{log_tail(log_file)}"
            )
        if elapsed >= timeout:
            raise ServerError(
                f"tritonserver was not ready at {http_url} after {timeout:.0f} s. Try a longer "
                f"startup timeout. Last lines of {log_file}:\n{log_tail(log_file)}"
            )
        if on_progress is not None:
            on_progress(elapsed)
        time.sleep(poll_interval)
