"""A rich spinner to pass as `on_progress` while a server starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from tritonsla.server.startup import ProgressHook


@contextmanager
def startup_spinner(message: str, console: Console | None = None) -> Iterator[ProgressHook]:
    """Show a spinner with `message` and the elapsed seconds; yield the hook that updates it."""
    with (console or Console(stderr=True)).status(message) as status:
        yield lambda elapsed: status.update(f"{message} ({elapsed:.0f} s)")
