"""Run the demo: the SLO capacity of three topologies of the same model at the same compute.

Side effects live here (servers, network, files); the comparison, figures and page are pure.
Each topology's deploy file is copied into the report with the demo model put in (so the report
holds exactly what ran), rendered, served by tritonserver on free loopback ports and searched for
its SLO capacity with the same workload; the server is always stopped (errors and Ctrl-C
included). The report is built in a staging folder and replaces `out` only when everything
succeeded.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from rich.console import Console

from tritonsla.assets import DEFAULT_FOLDER, DEMO_FOLDER, DEMO_MODEL, write_default_model
from tritonsla.bench.benchmark import BenchOptions, prepare
from tritonsla.bench.capacity import CapacitySettings
from tritonsla.bench.capacity_probe import find_capacity
from tritonsla.bench.objectives import deployment_objectives
from tritonsla.bench.progress import RunProgress
from tritonsla.bench.report import write_report
from tritonsla.bench.report.capacity_report import (
    capacity_report,
    print_capacity,
    probe_document,
    probe_line,
    write_capacity_json,
)
from tritonsla.demo.compare import (
    Parity,
    TopologyResult,
    conclusion,
    parity_problems,
    topologies_json,
)
from tritonsla.demo.html import objective_text, summary_page
from tritonsla.demo.plots import plot_capacity, plot_class_latency
from tritonsla.demo.workload import DEMO_MIX, DEMO_SHAPES, workload_lines, write_workload
from tritonsla.errors import ConfigError
from tritonsla.folders import check_replaceable, replace_folder
from tritonsla.profiles.loading import load_deployment, read_yaml_mapping
from tritonsla.repo.pipeline import render
from tritonsla.server import ServerOptions, TritonServer, free_ports, startup_spinner
from tritonsla.text.tokenizer import load_tokenizer


@dataclass(frozen=True)
class Topology:
    """One way of serving the classes: a deploy file, and a fixed model or routing by class."""

    name: str
    title: str
    deploy: Path
    endpoint: str | None = None
    """A fixed model for every request; None lets the SDK route by class."""


TOPOLOGIES = (
    Topology("dedicated", "one engine per class, routed by class", Path("deploy/cpu.yaml")),
    Topology("shared", "one engine, classes as priority levels", Path("deploy/cpu-shared.yaml")),
    Topology(
        "single",
        "one FIFO endpoint for every class",
        Path("deploy/cpu-single.yaml"),
        "general_tensorrt_llm_bls",
    ),
)

DEMO_CAPACITY = CapacitySettings(
    start_rps=4.0,
    max_rps=64.0,
    probe_seconds=20.0,
    min_probe_requests=60,
    warmup_requests=6,
    stop_in_flight_s=15.0,
)
"""Probes of 20 s (at least 60 requests, ~25 s with warm-up and drain) after a 10-s warm-up of
each server. Failing probes mostly stop early, so three searches took 7-8 minutes here, and 10
when one topology's confirmations failed four times running. Probes of 15 s were tried: two such
searches within the hour put the dedicated topology at 4.375 and 3.375 req/s; with a quarter
fewer answers, one burst decides a class's p95. A probe stops early on load in flight only past
15 s of offered load: the demo's batch jobs take 5-10 s when the server keeps up, so the
default 5 s stopped sustainable probes."""


REFINE_FACTOR = 1.2
"""Bracket step of the searches after the first: from a capacity already found, a 20% bracket
needs two bisections to reach 5%, a 2x bracket five."""


OWNER = "tritonsla demo"
"""Marker owner: the demo replaces only a report folder it wrote (or a missing or empty one)."""


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs; the defaults take 7-10 minutes on two cores."""

    out: Path = Path("reports/demo")
    topologies: tuple[Topology, ...] = TOPOLOGIES
    model: Path | None = DEMO_FOLDER
    """The model every topology serves (made if missing); None keeps the deploy files' own."""
    capacity: CapacitySettings = field(default_factory=lambda: DEMO_CAPACITY)
    workload_requests: int = 2000
    seed: int = 0
    allow_unequal_compute: bool = False
    timeout_s: float = 60.0
    force: bool = False
    """Replace `out` even when it is not an earlier demo report."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    out: Path
    results: list[TopologyResult]
    conclusion: list[str]


def demo_deploy(source: Path, model: Path | None, dest: Path) -> Path:
    """Copy `source` to `dest` with every relative path made absolute and `model` put in."""
    data = read_yaml_mapping(source)
    folder = source.resolve().parent
    for key in ("profiles_dir", "engines_dir"):
        data[key] = str((folder / data.get(key, f"../{key.removesuffix('_dir')}")).resolve())
    paths = data.setdefault("model", {})
    for key in ("checkpoint", "tokenizer"):
        value = str(model.resolve()) if model is not None else paths.get(key, "")
        paths[key] = str((folder / value).resolve())
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


def check_comparable(deploys: dict[str, Path], allow_unequal: bool) -> list[Parity]:
    """Parity rows of the topologies; raise when budgets or objectives differ (unless allowed)."""
    deployments = {name: load_deployment(path) for name, path in deploys.items()}
    rows = [Parity.of(name, dep) for name, dep in deployments.items()]
    problems = parity_problems(rows)
    missing = [row.name for row in rows if row.budget.cores is None]
    if missing:
        problems.append(f"{', '.join(missing)} state no budget (deploy file `budget`)")
    if problems and not allow_unequal:
        raise ConfigError(
            "topologies",
            "budget",
            "the compute budgets differ: " + "; ".join(problems),
            "state equal budgets in the deploy files, or pass --allow-unequal-compute",
        )
    return rows


def run_topology(
    topology: Topology,
    deploy: Path,
    reference: Path,
    parity: Parity,
    options: DemoOptions,
    workload: Path,
    staging: Path,
    console: Console,
) -> TopologyResult:
    """Serve one topology, search its SLO capacity, stop the server; return the result."""
    console.rule(f"[bold]{topology.name}[/bold]: {topology.title} ({topology.deploy})")
    repo = staging / "repos" / topology.name
    rendered = render(deploy, repo)
    http, grpc, metrics = free_ports(3)
    blas = rendered.deployment.deploy.hardware.blas_threads_per_engine
    with startup_spinner(f"starting tritonserver for {topology.name}", console) as hook:
        server = TritonServer(
            ServerOptions(repo, http_port=http, grpc_port=grpc, metrics_port=metrics),
            log_file=staging / "logs" / f"{topology.name}.log",
            blas_threads=blas,
            startup_timeout=300,
            on_progress=hook,
        )
        server.start()
    try:
        bench = BenchOptions(
            # routed topologies route by their own table; a fixed endpoint is labelled by the
            # reference classes, so every class is judged by the same objective everywhere
            deploy=deploy if topology.endpoint is None else reference,
            urls=(server.endpoints.grpc_address,),
            metrics_url=server.endpoints.metrics_url,
            prompts=workload,
            endpoint=topology.endpoint,
            seed=options.seed,
            timeout_s=options.timeout_s,
        )
        prepared = prepare(bench)
        numbers = itertools.count(1)
        with RunProgress(console) as progress:
            capacity = asyncio.run(
                find_capacity(
                    prepared,
                    options.capacity,
                    progress,
                    on_probe=lambda p: console.print(probe_line(next(numbers), p)),
                )
            )
        print_capacity(console, capacity)
        folder = staging / topology.name
        write_report(capacity_report(prepared, capacity), prepared.objectives, folder)
        write_capacity_json(capacity, folder / "capacity.json", {"deploy": str(deploy)})
        return TopologyResult(topology.name, topology.title, parity, capacity)
    finally:
        with console.status(f"stopping tritonserver of {topology.name}"):
            server.stop()


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run every topology and write the report folder; raise on failure (staging is kept)."""
    write_default_model(DEFAULT_FOLDER)
    if options.model is not None and options.model.resolve() == DEMO_FOLDER.resolve():
        write_default_model(DEMO_FOLDER, DEMO_MODEL)
    out = options.out.resolve()
    check_replaceable(out, OWNER, force=options.force)  # before minutes of measuring
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.running-", dir=out.parent))
    try:
        deploys = {
            t.name: demo_deploy(t.deploy, options.model, staging / "deploy" / f"{t.name}.yaml")
            for t in options.topologies
        }
        parities = check_comparable(deploys, options.allow_unequal_compute)
        reference = deploys[next(t.name for t in options.topologies if t.endpoint is None)]
        _check_objectives(deploys, options.topologies, reference)
        reference_dep = load_deployment(reference)
        tokenizer = load_tokenizer(reference_dep.path(reference_dep.deploy.model.tokenizer))
        workload = write_workload(
            staging / "workload.jsonl",
            workload_lines(
                tokenizer, DEMO_SHAPES, DEMO_MIX, options.workload_requests, options.seed
            ),
        )
        results: list[TopologyResult] = []
        for topology, parity in zip(options.topologies, parities, strict=True):
            capacity = next_search_settings(options.capacity, results)
            run_options = replace(options, capacity=capacity)
            result = run_topology(
                topology, deploys[topology.name], reference, parity, run_options, workload,
                staging, console,
            )  # fmt: skip
            results.append(result)
        lines = write_summary(options, results, reference, staging)
    except BaseException:
        console.print(f"[red]demo failed[/red]; its partial output is in {staging}")
        raise
    replace_folder(staging, out, owner=OWNER, force=options.force)
    return DemoResult(out, results, lines)


def next_search_settings(
    settings: CapacitySettings, results: Sequence[TopologyResult]
) -> CapacitySettings:
    """Start the next search at the highest capacity found so far, bracketing by REFINE_FACTOR.

    The topologies are of one order, so this saves probes; and from the highest, the search
    more often walks down through failing probes, which stop early, than up through passing
    ones, which run their whole schedule. Keeps `settings` while nothing has passed."""
    found = max((r.capacity.capacity_rps for r in results), default=0.0)
    if found <= 0:
        return settings
    start = min(max(found, settings.min_rps), settings.max_rps)
    factor = max(REFINE_FACTOR, 1 + 2 * settings.tolerance)
    return replace(settings, start_rps=round(start, 2), factor=min(factor, settings.factor))


def _check_objectives(
    deploys: dict[str, Path], topologies: tuple[Topology, ...], reference: Path
) -> None:
    """Every routed topology judges each class by the reference's objective."""
    expected = deployment_objectives(load_deployment(reference))
    for topology in topologies:
        if topology.endpoint is not None:
            continue
        found = deployment_objectives(load_deployment(deploys[topology.name]))
        if found != expected:
            raise ConfigError(
                str(topology.deploy),
                "overrides.<class>.slo",
                f"the {topology.name} topology's objectives differ from the reference's",
                "give every topology the same per-class SLOs",
            )


def _write_probes_csv(results: list[TopologyResult], path: Path) -> Path:
    classes = list(dict.fromkeys(s for r in results for p in r.capacity.probes for s in p.p95_ms))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        head = ["topology", "probe", "rate_rps", "attempt", "offered_rps", "served_rps"]
        head += ["goodput_rps"]
        head += ["slo_met", "sustained"]
        writer.writerow(head + [f"{sla}_{m}_p95_ms" for sla in classes for m in ("ttft", "e2e")])
        for result in results:
            for number, p in enumerate(result.capacity.probes, start=1):
                row = [result.name, number, p.rate, p.attempt, p.offered_rps, p.served_rps]
                row += [p.goodput_rps]
                row += [p.slo_met, p.sustained]
                row += [
                    p.p95_ms.get(sla, {}).get(f"{m}_ms") for sla in classes for m in ("ttft", "e2e")
                ]
                writer.writerow(row)
    return path


def write_summary(
    options: DemoOptions, results: list[TopologyResult], reference: Path, folder: Path
) -> list[str]:
    """comparison.json/.csv, figures and the HTML page for the topologies' results, into
    `folder`; returns the conclusion."""
    objectives = deployment_objectives(load_deployment(reference))
    lines = conclusion(results)
    probes = [
        [{k: v for k, v in probe_document(p).items() if k != "run"} for p in r.capacity.probes]
        for r in results
    ]
    document = {
        "question": "which topology meets every class's SLO at the highest load, at equal compute",
        "conclusion": lines,
        "objectives": {sla: objective_text(slo) for sla, slo in objectives.items()},
        "topologies": topologies_json(results, probes),
    }
    (folder / "comparison.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    _write_probes_csv(results, folder / "comparison.csv")
    images = [
        (
            plot_capacity(results, folder / "capacity_vs_load.png").name,
            "Goodput and served rate against offered load; dashed: each topology's SLO capacity",
        ),
        (
            plot_class_latency(results, objectives, folder / "latency_vs_load.png").name,
            "Each class's judged latency (p95) against offered load, with its SLO",
        ),
    ]
    links = [
        ("comparison.json", "comparison.json (topologies, capacities, every probe)"),
        ("comparison.csv", "comparison.csv (every probe, one row each)"),
        ("workload.jsonl", "workload.jsonl (the requests every topology was sent)"),
    ]
    for r in results:
        links += [
            (f"{r.name}/capacity.json", f"{r.name}: the capacity search (JSON)"),
            (f"{r.name}/requests.csv", f"{r.name}: every request (CSV)"),
            (f"deploy/{r.name}.yaml", f"{r.name}: the deploy file that ran"),
            (f"logs/{r.name}.log", f"{r.name}: tritonserver log"),
        ]
    shapes = "; ".join(
        f"{name}: {share:.0%}, prompt {DEMO_SHAPES[name].input.mean}±"
        f"{DEMO_SHAPES[name].input.std:g}, output {DEMO_SHAPES[name].output.mean}±"
        f"{DEMO_SHAPES[name].output.std:g} tokens"
        for name, share in DEMO_MIX.shares.items()
    )
    c = options.capacity
    settings = [
        ("topologies", "; ".join(f"{t.name}: {t.deploy}" for t in options.topologies)),
        ("model", str(options.model or "as in the deploy files")),
        ("workload", shapes),
        (
            "capacity search",
            f"after a {c.server_warmup_s:g}-s unmeasured warm-up of each server, Poisson probes "
            f"of {c.probe_seconds:g} s (>= {c.min_probe_requests} requests, "
            f"{c.warmup_requests} warm-up), bracket x{c.factor:g} then bisect to "
            f"{c.tolerance:.0%}; sustained = served >= {c.served_fraction:.0%} of offered and "
            f"last-third p95 <= {c.drift_ratio:g}x first-third p95 + the larger of "
            f"{c.drift_floor_ms:g} ms and {c.drift_slo_fraction:.0%} of the class's threshold",
        ),
        ("machine", f"{os.cpu_count()} CPU cores, CPU reference engine (no GPU)"),
    ]
    page = summary_page(
        "triton-sla: which topology meets the SLOs at the highest load",
        lines,
        results,
        objectives,
        images,
        links,
        settings,
    )
    (folder / "index.html").write_text(page, encoding="utf-8")
    return lines
