"""What a benchmark produces: one RunResult per load level, gathered in a BenchReport."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tritonsla.bench.records import RequestRecord
from tritonsla.bench.server_stats import ServerDelta
from tritonsla.bench.summary import RunSummary


@dataclass(frozen=True)
class RunResult:
    """One run at one load: its records (times from its first scheduled send), summary, servers.

    `server_error` says why server statistics are missing, when they are.
    """

    name: str
    summary: RunSummary
    records: tuple[RequestRecord, ...]
    servers: tuple[ServerDelta, ...] = ()
    server_error: str | None = None


@dataclass(frozen=True)
class BenchReport:
    """Every run of one `tritonsla bench` invocation and the settings it ran with."""

    settings: dict[str, Any]
    runs: tuple[RunResult, ...]
    started_at: str
    notes: tuple[str, ...] = field(default=())
