"""The one-page HTML summary of the demo (pure: data in, HTML text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from tritonsla.demo.compare import LoadComparison, Side
from tritonsla.profiles.schema import Slo

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.pass { color: #176f2c; font-weight: 600; } .fail { color: #b00020; font-weight: 600; }
img { max-width: 100%; margin: 0.5rem 0; } .note { color: #555; font-size: 0.9rem; }
"""


def _verdict(side: Side) -> str:
    if side.passed is None:
        return "-"
    return '<span class="pass">PASS</span>' if side.passed else '<span class="fail">FAIL</span>'


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _objective(slo: Slo | None) -> str:
    if slo is None:
        return "-"
    parts = [
        f"{key.removesuffix('_ms').upper()} p{slo.percentile:g} &le; {value:g} ms"
        for key in ("ttft_ms", "itl_ms", "e2e_ms")
        if (value := getattr(slo, key)) is not None
    ]
    if slo.min_output_tokens_per_s is not None:
        parts.append(f"&ge; {slo.min_output_tokens_per_s:g} tokens/s")
    return "<br>".join(parts) or "-"


def _load_table(comparison: LoadComparison, objectives: Mapping[str, Slo]) -> str:
    head = (
        "<tr><th rowspan=2>class</th><th rowspan=2>objective</th>"
        "<th colspan=5>SLA endpoints (routed)</th><th colspan=5>one endpoint</th></tr><tr>"
        + "<th>verdict</th><th>goodput req/s</th><th>ok</th><th>TTFT p95 ms</th>"
        "<th>e2e p95 ms</th>" * 2 + "</tr>"
    )
    rows = []
    for row in comparison.rows:
        cells = [escape(row.sla), _objective(objectives.get(row.sla))]
        for side in (row.routed, row.single):
            cells += [
                _verdict(side),
                f"{side.goodput_rps:.2f}",
                f"{side.ok}/{side.total}",
                _ms(side.ttft_p95_ms),
                _ms(side.e2e_p95_ms),
            ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    total = (
        f"<tr><td><b>all</b></td><td></td><td></td><td><b>{comparison.routed_goodput:.2f}</b>"
        f"</td><td colspan=3></td><td></td><td><b>{comparison.single_goodput:.2f}</b></td>"
        "<td colspan=3></td></tr>"
    )
    return f"<table>{head}{''.join(rows)}{total}</table>"


def summary_page(
    title: str,
    conclusion: Sequence[str],
    comparisons: Sequence[LoadComparison],
    objectives: Mapping[str, Slo],
    images: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
    settings: Sequence[tuple[str, str]],
) -> str:
    """The HTML page: conclusion first, then a table per load, figures, files and settings."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
        "<h2>What the numbers say</h2><ul>",
        *(f"<li>{escape(line)}</li>" for line in conclusion),
        "</ul>",
    ]
    for comparison in comparisons:
        parts.append(f"<h2>{escape(comparison.load)}</h2>")
        parts.append(_load_table(comparison, objectives))
    parts.append("<h2>Figures</h2>")
    parts += [
        f"<figure><img src='{escape(src)}' alt='{escape(alt)}'><figcaption class='note'>"
        f"{escape(alt)}</figcaption></figure>"
        for src, alt in images
    ]
    parts.append("<h2>Files</h2><ul>")
    parts += [f"<li><a href='{escape(href)}'>{escape(text)}</a></li>" for href, text in links]
    parts.append("</ul><h2>Settings</h2><table>")
    parts += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in settings]
    parts.append("</table></body></html>\n")
    return "\n".join(parts)
