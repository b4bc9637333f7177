"""The one-page HTML summary of the demo (pure: data in, HTML text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from tritonsla.bench.capacity import Probe
from tritonsla.demo.compare import TopologyResult
from tritonsla.profiles.schema import Slo

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.pass { color: #176f2c; font-weight: 600; } .fail { color: #b00020; font-weight: 600; }
img { max-width: 100%; margin: 0.5rem 0; } .note { color: #555; font-size: 0.9rem; }
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def objective_text(slo: Slo | None) -> str:
    """A class's objective in words, e.g. `TTFT p95 <= 500 ms`."""
    if slo is None:
        return "-"
    parts = [
        f"{key.removesuffix('_ms').upper()} p{slo.percentile:g} <= {value:g} ms"
        for key in ("ttft_ms", "itl_ms", "e2e_ms")
        if (value := getattr(slo, key)) is not None
    ]
    if slo.min_output_tokens_per_s is not None:
        parts.append(f">= {slo.min_output_tokens_per_s:g} tokens/s")
    return ", ".join(parts) or "-"


def parity_table(results: Sequence[TopologyResult]) -> str:
    """Compute per topology: what the comparison holds equal, and how it is split."""
    rows = [
        [
            escape(r.name),
            str(r.parity.budget.cores),
            str(r.parity.budget.engine_instances),
            str(r.parity.budget.blas_threads_per_engine),
            str(r.parity.budget.inflight_slots),
            f"{r.parity.budget.kv_tokens:,}",
        ]
        for r in results
    ]
    head = ("topology", "cores", "engine instances", "BLAS threads each")
    return _table((*head, "in-flight slots", "KV tokens"), rows)


def capacity_table(results: Sequence[TopologyResult]) -> str:
    """SLO capacity per topology and why it is not higher."""
    rows = [
        [
            escape(r.name),
            f"<b>{r.slo_capacity_rps:.2f}</b>",
            f"{r.capacity.capacity_rps:g}",
            str(len(r.capacity.probes)),
            escape(r.capacity.reason),
        ]
        for r in results
    ]
    head = ("topology", "SLO capacity req/s (offered)", "Poisson rate set", "probes")
    return _table((*head, "why not higher"), rows)


def _verdict(probe: Probe) -> str:
    if probe.slo_met:
        return '<span class="pass">MET</span>'
    return (
        '<span class="fail">LOW</span>' if probe.below_floor else '<span class="fail">FAIL</span>'
    )


def probe_table(result: TopologyResult, classes: Sequence[str]) -> str:
    """Every probe of one topology, in the order the search ran them."""
    rows = []
    for number, p in enumerate(result.capacity.probes, start=1):
        p95 = [
            _num(p.p95_ms.get(sla, {}).get("ttft_ms"), 0)
            + " / "
            + _num(p.p95_ms.get(sla, {}).get("e2e_ms"), 0)
            for sla in classes
        ]
        rows.append(
            [
                str(number),
                _num(p.offered_rps or p.rate),
                _num(p.served_rps),
                _num(p.goodput_rps),
                _verdict(p),
                *p95,
                escape("; ".join(p.reasons)) or "-",
            ]
        )
    head = ("#", "offered req/s", "served req/s", "goodput req/s", "verdict")
    per_class = tuple(f"{sla} TTFT / e2e p95 ms" for sla in classes)
    return _table((*head, *per_class, "reasons"), rows)


def summary_page(
    title: str,
    conclusion: Sequence[str],
    results: Sequence[TopologyResult],
    objectives: Mapping[str, Slo],
    images: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
    settings: Sequence[tuple[str, str]],
) -> str:
    """Conclusion, compute parity, capacities, figures, every probe, files and settings."""
    classes = list(objectives)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
        "<h2>What the numbers say</h2><ul>",
        *(f"<li>{escape(line)}</li>" for line in conclusion),
        "</ul><h2>Compute parity</h2>",
        parity_table(results),
        "<h2>SLO capacity</h2>",
        capacity_table(results),
        "<h2>Objectives</h2>",
        _table(
            ("class", "objective"),
            [[escape(s), escape(objective_text(objectives.get(s)))] for s in classes],
        ),
        "<h2>Figures</h2>",
    ]
    parts += [
        f"<figure><img src='{escape(src)}' alt='{escape(alt)}'><figcaption class='note'>"
        f"{escape(alt)}</figcaption></figure>"
        for src, alt in images
    ]
    for result in results:
        parts.append(f"<h2>Probes: {escape(result.name)} ({escape(result.title)})</h2>")
        parts.append(probe_table(result, classes))
    parts.append("<h2>Files</h2><ul>")
    parts += [f"<li><a href='{escape(href)}'>{escape(text)}</a></li>" for href, text in links]
    parts.append("</ul><h2>Settings</h2>")
    parts.append(_table(("setting", "value"), [[escape(k), escape(v)] for k, v in settings]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
