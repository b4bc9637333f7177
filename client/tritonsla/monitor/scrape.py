"""One scrape of Prometheus endpoints: every sample keyed by its name and labels (pure).

Samples keep their exposition names (`x_total`, `x_bucket`, `x_count`, `x_sum`), so counters,
gauges and histogram buckets are looked up the same way. Several endpoints (the gateway and
each Triton server) merge into one Scrape; samples with equal name and labels on different
servers (replicas of one model) add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
"""Label pairs, sorted by name."""


def labels_of(mapping: Mapping[str, str]) -> Labels:
    """Sorted label pairs of `mapping`."""
    return tuple(sorted(mapping.items()))


@dataclass(frozen=True)
class Scrape:
    """Samples of one moment: `at` is seconds on a monotonic clock."""

    at: float
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)

    def select(self, name: str, **match: str) -> Iterator[tuple[dict[str, str], float]]:
        """(labels, value) of every `name` sample whose labels include `match`."""
        for (sample, labels), value in self.samples.items():
            if sample != name:
                continue
            found = dict(labels)
            if all(found.get(key) == wanted for key, wanted in match.items()):
                yield found, value

    def total(self, name: str, **match: str) -> float | None:
        """Sum of the matching `name` samples; None when there is none."""
        values = [value for _, value in self.select(name, **match)]
        return sum(values) if values else None

    def has(self, prefix: str) -> bool:
        """Whether any sample's name starts with `prefix`."""
        return any(name.startswith(prefix) for name, _ in self.samples)


def parse_samples(text: str) -> dict[tuple[str, Labels], float]:
    """Samples of Prometheus exposition `text`; raises ValueError when it is not that format."""
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, labels_of(sample.labels))
            samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def merge(at: float, parts: Iterable[Mapping[tuple[str, Labels], float]]) -> Scrape:
    """One Scrape of several endpoints' samples taken at `at`; equal keys add up."""
    samples: dict[tuple[str, Labels], float] = {}
    for part in parts:
        for key, value in part.items():
            samples[key] = samples.get(key, 0.0) + value
    return Scrape(at, samples)
