"""Live progress of runs on the console (rich): requests done, errors, elapsed time."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tritonsla.bench.records import RequestRecord


class RunProgress:
    """One bar per run; `total` None (a duration limit in a closed loop) shows a pulsing bar."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: int | None = None
        self._errors = 0

    def start(self, name: str, total: int | None) -> None:
        """Begin the bar of the run `name`."""
        self._errors = 0
        self._task = self._progress.add_task(name, total=total, errors="")

    def advance(self, record: RequestRecord) -> None:
        """One request finished (any status)."""
        if self._task is None:
            return
        if not record.ok:
            self._errors += 1
        errors = f"[red]{self._errors} failed[/]" if self._errors else ""
        self._progress.update(self._task, advance=1, errors=errors)

    def finish(self) -> None:
        """End the current bar (its total becomes what was done)."""
        if self._task is not None:
            done = self._progress.tasks[-1].completed
            self._progress.update(self._task, total=done, completed=done)
            self._task = None

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()
