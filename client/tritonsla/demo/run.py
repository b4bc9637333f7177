"""Run the demo: the same mixed workload against the SLA endpoints and against one endpoint.

Side effects live here (servers, network, files); the figures, comparison and page are pure.
Each phase renders its deployment, starts tritonserver on free loopback ports, runs the sweep of
offered loads through the SDK and always stops the server (errors and Ctrl-C included). The
report is built in a staging folder and replaces `out` only when everything succeeded.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from tritonsla.assets import DEFAULT_FOLDER, write_default_model
from tritonsla.bench.benchmark import BenchOptions, prepare, run_benchmark
from tritonsla.bench.objectives import deployment_objectives
from tritonsla.bench.progress import RunProgress
from tritonsla.bench.report import file_label, write_report
from tritonsla.bench.result import BenchReport
from tritonsla.bench.schedule import Limits, Poisson
from tritonsla.demo.compare import LoadComparison, compare, conclusion
from tritonsla.demo.html import summary_page
from tritonsla.demo.plots import plot_goodput, plot_tail_latency, plot_ttft_cdfs
from tritonsla.demo.workload import DEMO_MIX, DEMO_SHAPES, workload_lines, write_workload
from tritonsla.folders import replace_folder
from tritonsla.profiles.loading import load_deployment
from tritonsla.repo.pipeline import render
from tritonsla.server import ServerOptions, TritonServer, free_ports, startup_spinner
from tritonsla.text.tokenizer import load_tokenizer


@dataclass(frozen=True)
class Phase:
    """One deployment the workload runs against."""

    name: str
    title: str
    deploy: Path
    endpoint: str | None
    """A fixed model for every request; None lets the SDK route by class."""


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs; the defaults take about two minutes on two cores."""

    out: Path = Path("reports/demo")
    rates: tuple[float, ...] = (8.0, 16.0, 24.0)
    requests: int = 200
    warmup_requests: int = 10
    seed: int = 0
    sla_deploy: Path = Path("deploy/cpu.yaml")
    single_deploy: Path = Path("deploy/cpu-single.yaml")
    single_endpoint: str = "general_tensorrt_llm_bls"
    timeout_s: float = 120.0

    def phases(self) -> tuple[Phase, Phase]:
        return (
            Phase("sla", "SLA endpoints, routed by class", self.sla_deploy, None),
            Phase(
                "single", "one one-size-fits-all endpoint", self.single_deploy, self.single_endpoint
            ),
        )


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    out: Path
    comparisons: list[LoadComparison]
    conclusion: list[str]


def run_phase(
    phase: Phase, options: DemoOptions, workload: Path, staging: Path, console: Console
) -> BenchReport:
    """Serve `phase.deploy`, run the sweep against it, stop the server; return the report."""
    console.rule(f"[bold]{phase.title}[/bold] ({phase.deploy})")
    rendered = render(phase.deploy, staging / "repos" / phase.name)
    http, grpc, metrics = free_ports(3)
    server_options = ServerOptions(
        staging / "repos" / phase.name, http_port=http, grpc_port=grpc, metrics_port=metrics
    )
    blas = rendered.deployment.deploy.hardware.blas_threads_per_engine
    with startup_spinner(f"starting tritonserver for {phase.name}", console) as hook:
        server = TritonServer(
            server_options,
            log_file=staging / "logs" / f"{phase.name}.log",
            blas_threads=blas,
            startup_timeout=300,
            on_progress=hook,
        )
        server.start()
    try:
        bench = BenchOptions(
            deploy=options.sla_deploy,  # the classes and their objectives judge both phases
            urls=(server.endpoints.grpc_address,),
            metrics_url=server.endpoints.metrics_url,
            strategies=tuple(Poisson(rate) for rate in options.rates),
            limits=Limits(requests=options.requests, warmup_requests=options.warmup_requests),
            prompts=workload,
            endpoint=phase.endpoint,
            seed=options.seed,
            timeout_s=options.timeout_s,
        )
        prepared = prepare(bench)
        with RunProgress(console) as progress:
            report = asyncio.run(run_benchmark(prepared, progress))
        write_report(report, prepared.objectives, staging / phase.name)
        return report
    finally:
        with console.status(f"stopping tritonserver of {phase.name}"):
            server.stop()


def _write_comparison(comparisons: list[LoadComparison], staging: Path) -> list[Path]:
    data = [
        dataclasses.asdict(c)
        | {"routed_goodput": c.routed_goodput, "single_goodput": c.single_goodput}
        for c in comparisons
    ]
    json_path = staging / "comparison.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    csv_path = staging / "comparison.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        fields = [f.name for f in dataclasses.fields(comparisons[0].rows[0].routed)]
        writer.writerow(
            [
                "load",
                "offered_rps",
                "sla",
                *(f"{side}_{f}" for side in ("routed", "single") for f in fields),
            ]
        )
        for c in comparisons:
            for row in c.rows:
                writer.writerow(
                    [
                        c.load,
                        c.offered_rps,
                        row.sla,
                        *(getattr(row.routed, f) for f in fields),
                        *(getattr(row.single, f) for f in fields),
                    ]
                )
    return [json_path, csv_path]


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run both phases and write the report folder; raise on failure (staging is kept)."""
    write_default_model(DEFAULT_FOLDER)
    out = options.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.running-", dir=out.parent))
    try:
        tokenizer = load_tokenizer(DEFAULT_FOLDER)
        total = (options.requests + options.warmup_requests) * len(options.rates)
        workload = write_workload(
            staging / "workload.jsonl",
            workload_lines(tokenizer, DEMO_SHAPES, DEMO_MIX, total, options.seed),
        )
        routed_phase, single_phase = options.phases()
        routed = run_phase(routed_phase, options, workload, staging, console)
        single = run_phase(single_phase, options, workload, staging, console)
        result = write_summary(options, routed, single, staging)
    except BaseException:
        console.print(f"[red]demo failed[/red]; its partial output is in {staging}")
        raise
    replace_folder(staging, out)
    return DemoResult(out, result.comparisons, result.conclusion)


def write_summary(
    options: DemoOptions, routed: BenchReport, single: BenchReport, folder: Path
) -> DemoResult:
    """Comparison files, figures and the HTML page for the two reports, into `folder`."""
    objectives = deployment_objectives(load_deployment(options.sla_deploy))
    comparisons = compare(routed, single)
    lines = conclusion(comparisons)
    files = _write_comparison(comparisons, folder)
    images = [
        (
            plot_goodput(comparisons, folder / "goodput_vs_load.png").name,
            "Goodput (requests/s that met their class SLO) against offered load",
        ),
        (
            plot_tail_latency(comparisons, objectives, folder / "latency_vs_load.png").name,
            "Each class's judged latency (p95) against offered load, with its SLO",
        ),
    ]
    by_name = {run.name: run for run in single.runs}
    for run in routed.runs:
        if run.name in by_name:
            path = folder / f"ttft_cdf_{file_label(run.name)}.png"
            plot_ttft_cdfs(run, by_name[run.name], objectives, path)
            images.append((path.name, f"Time to first token per class at {run.name}"))
    links = [(p.name, p.name) for p in files] + [
        ("workload.jsonl", "workload.jsonl (the requests both phases sent)"),
        ("sla/summary.json", "SLA endpoints: full report (JSON)"),
        ("sla/requests.csv", "SLA endpoints: every request (CSV)"),
        ("single/summary.json", "one endpoint: full report (JSON)"),
        ("single/requests.csv", "one endpoint: every request (CSV)"),
        ("logs/sla.log", "tritonserver log (SLA endpoints)"),
        ("logs/single.log", "tritonserver log (one endpoint)"),
    ]
    shapes = "; ".join(
        f"{name}: {share:.0%}, prompt {DEMO_SHAPES[name].input.mean}±"
        f"{DEMO_SHAPES[name].input.std:g}, output {DEMO_SHAPES[name].output.mean}±"
        f"{DEMO_SHAPES[name].output.std:g} tokens"
        for name, share in DEMO_MIX.shares.items()
    )
    settings = [
        ("SLA deployment", str(options.sla_deploy)),
        ("baseline deployment", f"{options.single_deploy} ({options.single_endpoint})"),
        ("offered loads", ", ".join(f"Poisson {r:g} requests/s" for r in options.rates)),
        ("requests per load", f"{options.requests} measured + {options.warmup_requests} warm-up"),
        ("workload", shapes),
        ("machine", f"{os.cpu_count()} CPU cores, CPU reference engine (no GPU)"),
    ]
    page = summary_page(
        "triton-sla: SLA endpoints against one endpoint",
        lines,
        comparisons,
        objectives,
        images,
        links,
        settings,
    )
    (folder / "index.html").write_text(page, encoding="utf-8")
    return DemoResult(folder, comparisons, lines)
