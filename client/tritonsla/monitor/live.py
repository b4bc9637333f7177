"""The monitor's loops: a view per tick over a sliding window, or one snapshot.

Scraping and sleeping are passed in, so the loops run in tests without a network or a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tritonsla.monitor.scrape import Scrape
from tritonsla.monitor.view import ClassSpec, MonitorView, Source, monitor_view
from tritonsla.monitor.window import ScrapeHistory

Scraper = Callable[[], tuple[Scrape, tuple[Source, ...]]]


@dataclass(frozen=True)
class Watch:
    """What to watch and how: the deployment's name and classes, the window and the tick."""

    deployment: str
    specs: Sequence[ClassSpec]
    window_s: float
    interval_s: float


def views(
    watch: Watch,
    scrape: Scraper,
    ticks: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[MonitorView]:
    """A view after every scrape, `interval_s` apart, over the last `window_s` (or less while
    the window fills); `ticks` scrapes in all, or endlessly when None."""
    history = ScrapeHistory(watch.window_s)
    done = 0
    while ticks is None or done < ticks:
        if done:
            sleep(watch.interval_s)
        latest, sources = scrape()
        history.add(latest)
        done += 1
        yield monitor_view(watch.deployment, watch.specs, history.baseline, latest, sources)


def snapshot(
    watch: Watch, scrape: Scraper, sleep: Callable[[float], None] = time.sleep
) -> MonitorView:
    """One view over one window: a scrape, `window_s` of waiting, another scrape."""
    first, _ = scrape()
    sleep(watch.window_s)
    last, sources = scrape()
    return monitor_view(watch.deployment, watch.specs, first, last, sources)
