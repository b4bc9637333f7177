"""The demo's pure parts: workload shapes, compute parity, the conclusion and the page."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tritonsla.bench.capacity import CapacityResult, CapacitySettings, Probe
from tritonsla.bench.workload import Mix, TokenLengths
from tritonsla.demo.compare import Parity, TopologyResult, conclusion, parity_problems
from tritonsla.demo.html import summary_page
from tritonsla.demo.run import check_comparable, demo_deploy, next_search_settings
from tritonsla.demo.workload import ClassShape, workload_lines, write_workload
from tritonsla.errors import ConfigError
from tritonsla.profiles.schema import Slo
from tritonsla.profiles.topology import ComputeBudget
from tritonsla.text.default_tokenizer import write_default_tokenizer
from tritonsla.text.tokenizer import load_tokenizer

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = CapacitySettings(max_rps=64.0)


def _probe(rate: float, met: bool, reasons: tuple[str, ...] = ()) -> Probe:
    p95 = {"realtime": {"ttft_ms": 100.0 if met else 900.0, "e2e_ms": 400.0}}
    return Probe(rate, met, offered_rps=rate, served_rps=rate, goodput_rps=rate, p95_ms=p95,
                 reasons=reasons)  # fmt: skip


def _result(name: str, capacity: float, limit_rate: float | None, why: str = "") -> TopologyResult:
    probes = [_probe(capacity, True)] if capacity else []
    limiting = None if limit_rate is None else _probe(limit_rate, False, (why,))
    probes += [limiting] if limiting else []
    result = CapacityResult(
        capacity, tuple(probes), probes[0] if capacity else None, limiting, "r", SETTINGS
    )
    budget = ComputeBudget(2, 3, 1, 52, 28672)
    return TopologyResult(name, f"{name} title", Parity(name, "single", budget), result)


def test_parity_problems_name_each_difference():
    same = ComputeBudget(2, 3, 1, 52, 28672)
    rows = [
        Parity("dedicated", "single", same),
        Parity("shared", "shared", ComputeBudget(2, 2, 1, 52, 28672)),  # split differently: ok
        Parity("single", "single", ComputeBudget(2, 2, 1, 64, 20000)),
    ]
    assert parity_problems(rows) == [
        "single has 64 in-flight slots, dedicated has 52",
        "single has 20000 KV tokens, dedicated has 28672",
    ]


def test_the_repository_topologies_are_comparable():
    deploys = {n: ROOT / "deploy" / f for n, f in
               (("dedicated", "cpu.yaml"), ("shared", "cpu-shared.yaml"),
                ("single", "cpu-single.yaml"))}  # fmt: skip
    rows = check_comparable(deploys, allow_unequal=False)
    assert {(r.budget.inflight_slots, r.budget.kv_tokens, r.budget.cores) for r in rows} == {
        (52, 28672, 2)
    }


def test_unequal_budgets_are_refused_unless_allowed(project):
    single = project.edit(
        "deploy/cpu-single.yaml",
        lambda d: (
            d.update(budget={"cores": 2, "inflight_slots": 64, "kv_tokens": 28672})
            or d["overrides"]["general"]["batching"].update(max_batch_size=32)
        ),
    )
    deploys = {"dedicated": project.deploy, "single": single}
    with pytest.raises(ConfigError, match="single has 64 in-flight slots, dedicated has 52"):
        check_comparable(deploys, allow_unequal=False)
    assert len(check_comparable(deploys, allow_unequal=True)) == 2


def test_demo_deploy_puts_the_model_in_and_makes_paths_absolute(tmp_path):
    model = tmp_path / "model"
    path = demo_deploy(ROOT / "deploy" / "cpu-shared.yaml", model, tmp_path / "d" / "x.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["model"]["checkpoint"] == data["model"]["tokenizer"] == str(model.resolve())
    assert data["profiles_dir"] == str((ROOT / "profiles").resolve())
    assert data["layout"] == "shared" and data["shared_engine"]["instances"] == 2


def test_conclusion_names_the_winner_ratio_and_each_limit():
    results = [
        _result("dedicated", 6.0, 6.5, "batch: e2e p95 above SLO"),
        _result("shared", 8.0, 8.5, "realtime: TTFT p95 900 ms is above 500 ms"),
        _result("single", 4.0, 4.4, "served 80% of offered"),
    ]
    first, *rest = conclusion(results)
    assert "shared (shared title) meets every class's SLO at the highest load: 8.00" in first
    assert "1.33x the dedicated topology's 6.00" in first
    assert rest[0].startswith(
        "shared: SLO capacity 8.00 req/s; at 8.50 req/s offered: realtime: TTFT"
    )
    assert "dedicated: SLO capacity 6.00 req/s (75% of shared)" in rest[1]
    assert "single: SLO capacity 4.00 req/s (50% of shared)" in rest[2]
    assert "at 4.40 req/s offered: served 80%" in rest[2]


def test_a_lead_within_the_runs_own_noise_is_said_to_be():
    dedicated = _result("dedicated", 6.0, 6.5, "realtime: TTFT p95 above SLO")
    noisy = replace(  # single passed 7.2 once, then failed its confirmation there
        dedicated.capacity, probes=(*dedicated.capacity.probes, _probe(7.2, True))
    )
    results = [replace(dedicated, capacity=noisy), _result("single", 6.6, 6.9, "drift")]
    first, second, *rest = conclusion(results)
    assert first.startswith("single (single title) meets every class's SLO")
    assert second.startswith("That lead is within this run's noise: dedicated also passed a")
    assert "at 7.2 req/s, not below single's capacity" in second
    assert rest[1].endswith("; a probe at 7.2 req/s met every SLO too, but another at or below "
                            "it did not (every probe at a rate must pass).")  # fmt: skip
    assert not rest[0].endswith("must pass).")  # single's edge was clean
    clean = conclusion([_result("single", 6.6, 6.9), _result("dedicated", 6.0, 6.5)])
    assert not any("noise" in line for line in clean)


def test_later_searches_start_at_the_highest_capacity_so_far_with_a_finer_bracket():
    assert next_search_settings(SETTINGS, []) == SETTINGS
    after = next_search_settings(SETTINGS, [_result("dedicated", 6.5, 6.75)])
    assert (after.start_rps, after.factor) == (6.5, 1.2)
    found = [_result("dedicated", 6.5, 6.75), _result("shared", 4.5, 4.75)]
    assert next_search_settings(SETTINGS, found).start_rps == 6.5
    assert next_search_settings(SETTINGS, [_result("dedicated", 0.0, 0.25)]) == SETTINGS
    coarse = CapacitySettings(tolerance=0.2, factor=1.5)
    assert next_search_settings(coarse, [_result("d", 4.0, 4.5)]).factor == 1.4  # > 1 + tol.


def test_conclusion_calls_a_tie_and_reports_nothing_met():
    tie = conclusion([_result("a", 6.0, 6.2), _result("b", 5.9, 6.1)])
    assert tie[0].startswith("a and b tie at the top")
    none = conclusion([_result("a", 0.0, 0.25, "realtime: TTFT p95 above SLO")])
    assert none[0] == "No topology met every SLO at any rate probed."
    assert "a: SLO capacity 0.00 req/s; at 0.25 req/s offered: realtime" in none[1]


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


def test_page_shows_parity_capacities_probes_and_escapes_text():
    results = [_result("dedicated", 6.0, 6.5, "<b>x</b>"), _result("single", 4.0, 4.4)]
    page = summary_page(
        "t",
        ["<script>alert(1)</script>"],
        results,
        {"realtime": Slo(ttft_ms=500)},
        [("a.png", "fig")],
        [("x.csv", "x")],
        [("k", "v")],
    )
    assert "&lt;script&gt;" in page and "<script>" not in page and "&lt;b&gt;x" in page
    assert "Compute parity" in page and "28,672" in page
    assert "<b>6.00</b>" in page and "<b>4.00</b>" in page
    assert page.count('class="pass"') == 2 and page.count('class="fail"') == 2
    assert "TTFT p95 &lt;= 500 ms" in page and "<img src='a.png'" in page
