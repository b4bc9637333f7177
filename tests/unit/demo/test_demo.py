"""The demo's pure parts: workload shapes, the comparison, its conclusion and the page."""

from __future__ import annotations

import json
from collections import Counter

from tritonsla.bench.workload import Mix, TokenLengths
from tritonsla.demo.compare import ClassRow, LoadComparison, Side, conclusion, offered_rate
from tritonsla.demo.html import summary_page
from tritonsla.demo.workload import ClassShape, workload_lines, write_workload
from tritonsla.profiles.schema import Slo
from tritonsla.text.default_tokenizer import write_default_tokenizer
from tritonsla.text.tokenizer import load_tokenizer


def _side(passed, goodput, ttft=None, e2e=None) -> Side:
    return Side(passed, goodput, 10, 10, ttft, e2e, 100.0)


def _load(name: str, routed: list[Side], single: list[Side]) -> LoadComparison:
    classes = ("realtime", "interactive", "batch")
    rows = tuple(ClassRow(c, r, s) for c, r, s in zip(classes, routed, single, strict=True))
    return LoadComparison(name, offered_rate(name), rows)


def test_offered_rate_parses_rate_strategies_only():
    assert offered_rate("poisson@16rps") == 16.0
    assert offered_rate("gamma@2.5rps,burstiness=0.5") == 2.5
    assert offered_rate("concurrent@8") is None


def test_conclusion_reports_the_winner_honestly():
    routed_wins = _load(
        "poisson@24rps",
        [_side(True, 4.0)] * 3,
        [_side(False, 0.5), _side(True, 3.0), _side(True, 3.0)],
    )
    single_wins = _load("poisson@8rps", [_side(True, 1.0)] * 3, [_side(True, 2.0)] * 3)
    tie = _load("poisson@4rps", [_side(True, 1.0)] * 3, [_side(True, 1.0)] * 3)
    first, second, third = conclusion([routed_wins, single_wins, tie])
    assert "12.00 good requests/s against 6.50" in first and "(1.8x)" in first
    assert "single endpoint realtime" not in first and "single endpoint interactive" in first
    assert "the single endpoint delivered more goodput (6.00 against 3.00" in second
    assert "no real difference" in third


def test_workload_lines_follow_each_class_shape(tmp_path):
    write_default_tokenizer(tmp_path / "tok")
    tokenizer = load_tokenizer(tmp_path / "tok")
    shapes = {
        "a": ClassShape(TokenLengths(20), TokenLengths(5)),
        "b": ClassShape(TokenLengths(60), TokenLengths(50)),
    }
    lines = workload_lines(tokenizer, shapes, Mix({"a": 0.25, "b": 0.75}), 40, seed=3)
    counts = Counter(line["sla"] for line in lines)
    assert counts == {"a": 10, "b": 30}
    for line in lines:
        expected = 20 if line["sla"] == "a" else 60
        assert len(tokenizer.encode(line["text"])) == expected
        assert line["max_tokens"] == (5 if line["sla"] == "a" else 50)
    assert workload_lines(tokenizer, shapes, Mix({"a": 0.25, "b": 0.75}), 40, seed=3) == lines
    path = write_workload(tmp_path / "w.jsonl", lines)
    assert [json.loads(x) for x in path.read_text().splitlines()] == lines


def test_page_shows_verdicts_goodput_and_escapes_text():
    comparison = _load(
        "poisson@24rps",
        [_side(True, 4.0, 300.0, 600.0)] * 3,
        [_side(False, 0.5, 2400.0, 2800.0)] * 3,
    )
    page = summary_page(
        "t",
        ["<script>alert(1)</script>"],
        [comparison],
        {"realtime": Slo(ttft_ms=500)},
        [("a.png", "fig")],
        [("x.csv", "x")],
        [("k", "v")],
    )
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert page.count('class="pass"') == 3 and page.count('class="fail"') == 3
    assert "TTFT p95 &le; 500 ms" in page and "12.00" in page and "1.50" in page
    assert "<img src='a.png'" in page
