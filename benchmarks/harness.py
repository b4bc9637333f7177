"""Shared parts of the load-generator benchmarks: a served model repository, perf_analyzer runs,
and `tritonsla bench` runs of the same model at the same load.

The repository holds the CPU deployment (rendered from deploy/cpu.yaml) plus two Python-backend
models with the ensemble's client contract (text_input, max_tokens, stream -> text_output):
`echo` answers at once (capacity), `sleep` takes DELAY_S per request on one instance
(a steady service time for latency agreement).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
from tritonclient.utils import InferenceServerException

from tritonsla.assets import write_default_model
from tritonsla.bench.benchmark import BenchOptions, prepare, run_benchmark
from tritonsla.bench.records import RequestRecord
from tritonsla.bench.result import RunResult
from tritonsla.bench.runner import run_once
from tritonsla.bench.schedule import Concurrent, Limits, Slot
from tritonsla.bench.summary import RunSummary
from tritonsla.bench.workload import BenchRequest, PromptEntry, PromptFile, TokenLengths, Workload
from tritonsla.repo.pipeline import render
from tritonsla.server import Endpoints, ServerOptions, TritonServer, free_ports

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "cpu.yaml"
PERF_ANALYZER_SH = ROOT / "tools" / "perf_analyzer.sh"
DELAY_S = 0.02
PROMPT = " the model is a test of the system and the answer is in the data" * 2

_MODEL_PY = """
import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.delay = float(config["parameters"]["delay_s"]["string_value"])

    def execute(self, requests):
        responses = []
        for request in requests:
            if self.delay:
                time.sleep(self.delay)
            text = pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy()
            output = pb_utils.Tensor("text_output", text.astype(np.object_))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
"""

_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: 64
{batching}
input [
  {{ name: "text_input" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "max_tokens" data_type: TYPE_INT32 dims: [ 1 ] }},
  {{ name: "stream" data_type: TYPE_BOOL dims: [ 1 ] optional: true }}
]
output [ {{ name: "text_output" data_type: TYPE_STRING dims: [ -1 ] }} ]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "delay_s" value: {{ string_value: "{delay}" }} }}
"""


def write_contract_model(repo: Path, name: str, delay_s: float, batching: bool) -> None:
    """A Python-backend model with the client contract of the ensemble."""
    folder = repo / name / "1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(_MODEL_PY)
    config = _CONFIG.format(
        name=name, delay=delay_s, batching="dynamic_batching { }" if batching else ""
    )
    (repo / name / "config.pbtxt").write_text(config)


@contextmanager
def served_repository(with_cpu_deployment: bool = True) -> Iterator[Endpoints]:
    """A tritonserver on free loopback ports serving echo, sleep (and the CPU deployment)."""
    with tempfile.TemporaryDirectory(prefix="tritonsla-bench-") as tmp:
        repo = Path(tmp) / "model_repo"
        if with_cpu_deployment:
            write_default_model(ROOT / "assets" / "tiny-gpt2")
            render(DEPLOY, repo)
        write_contract_model(repo, "echo", 0.0, batching=True)
        write_contract_model(repo, "sleep", DELAY_S, batching=False)
        http, grpc, metrics = free_ports(3)
        options = ServerOptions(
            model_repository=repo, http_port=http, grpc_port=grpc, metrics_port=metrics
        )
        server = TritonServer(options, log_file=Path(tmp) / "server.log", startup_timeout=240)
        with server:
            yield server.endpoints


# --- perf_analyzer -----------------------------------------------------------------------------
class PerfAnalyzerUnavailable(RuntimeError):
    """perf_analyzer cannot run here; the message says why."""


def perf_analyzer_env() -> dict[str, str]:
    """The environment perf_analyzer runs in, from tools/perf_analyzer.sh (sets it up once)."""
    done = subprocess.run(
        ["bash", str(PERF_ANALYZER_SH)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PerfAnalyzerUnavailable(done.stderr.strip() or f"exit {done.returncode}")
    last = done.stdout.strip().splitlines()[-1]
    key, _, value = last.partition("=")
    if key != "LD_LIBRARY_PATH":
        raise PerfAnalyzerUnavailable(f"unexpected output of {PERF_ANALYZER_SH}: {last}")
    return {**os.environ, "LD_LIBRARY_PATH": value}


@dataclass(frozen=True)
class Measured:
    """perf_analyzer's request rate and latency percentiles (ms) at one load."""

    requests_per_s: float
    ttft_p50: float
    ttft_p99: float
    e2e_p50: float
    e2e_p99: float
    cpu_ms_per_request: float


def perf_analyzer(
    env: dict[str, str],
    endpoints: Endpoints,
    model: str,
    concurrency: int,
    *,
    streaming: bool,
    max_tokens: int = 16,
    window_ms: int = 5000,
    stability_pct: int = 10,
) -> Measured:
    """perf_analyzer at `concurrency` (async gRPC): the request rate from its report, latencies
    from its per-request timestamps (--profile-export-file): first and last response.

    Its summary line says a decoupled model's latency is the first response's, yet its numbers
    match the last response's timestamps; the export holds both, so both are taken from there.
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "input.json"
        row = {"text_input": [PROMPT], "max_tokens": [max_tokens], "stream": [streaming]}
        data.write_text(json.dumps({"data": [row]}))
        report = Path(tmp) / "report.csv"
        export = Path(tmp) / "export.json"
        argv = [
            str(ROOT / ".venv" / "bin" / "perf_analyzer"),
            "-m", model,
            "-u", endpoints.grpc_address,
            "-i", "grpc",
            "--async",
            "--input-data", str(data),
            "--concurrency-range", str(concurrency),
            "--measurement-interval", str(window_ms),
            "--stability-percentage", str(stability_pct),
            "--max-trials", "20",
            "-f", str(report),
            "--profile-export-file", str(export),
        ]  # fmt: skip
        if streaming:
            argv.append("--streaming")
        before = client_cpu_s(resource.RUSAGE_CHILDREN)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        cpu_s = client_cpu_s(resource.RUSAGE_CHILDREN) - before
        if done.returncode != 0:
            raise PerfAnalyzerUnavailable(f"perf_analyzer failed: {done.stdout}{done.stderr}")
        with report.open() as handle:
            rate = float(next(csv.DictReader(handle))["Inferences/Second"])
        requests = json.loads(export.read_text())["experiments"][0]["requests"]
    first, last = [], []
    for request in requests:
        stamps = request["response_timestamps"]
        if stamps:
            first.append((stamps[0] - request["timestamp"]) / 1e6)
            last.append((stamps[-1] - request["timestamp"]) / 1e6)
    ttft = np.percentile(first, [50, 99])
    e2e = np.percentile(last, [50, 99])
    cpu_ms = cpu_s * 1000 / len(requests)
    return Measured(rate, float(ttft[0]), float(ttft[1]), float(e2e[0]), float(e2e[1]), cpu_ms)


def client_cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds of this process (or of its finished children)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# --- our generator ---------------------------------------------------------------------------
def ours(
    endpoints: Endpoints,
    concurrency: int,
    *,
    model: str | None = None,
    sla: str = "realtime",
    max_tokens: int = 16,
    duration_s: float = 10.0,
    warmup_s: float = 1.0,
) -> RunResult:
    """`tritonsla bench` at `concurrency` for `duration_s`: a fixed `model`, or class `sla`."""
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.jsonl"
        prompts.write_text(json.dumps({"text": PROMPT, "max_tokens": max_tokens}) + "\n")
        options = BenchOptions(
            deploy=DEPLOY,
            urls=(endpoints.grpc_address,),
            metrics_url=endpoints.metrics_url,
            strategies=(Concurrent(concurrency),),
            limits=Limits(duration_s=duration_s, warmup_s=warmup_s),
            mix=f"{sla}=1",
            output_tokens=TokenLengths(max_tokens),
            prompts=prompts,
            endpoint=model,
            server_stats=False,
        )
        report = asyncio.run(run_benchmark(prepare(options)))
    return report.runs[0]


def ratio(a: float | None, b: float | None) -> str:
    """a / b with two decimals, or n/a."""
    return "n/a" if not a or not b else f"{a / b:.2f}"


class UnarySender:
    """A lean sender for the capacity benchmark: one unary gRPC `infer` per request to a fixed
    non-decoupled model (tritonclient.grpc.aio), no routing. It measures what the scheduler,
    records and metrics cost apart from the routing SDK's per-request stream."""

    def __init__(self, address: str, model: str) -> None:
        self.client = aioclient.InferenceServerClient(address)
        self.model = model
        self._inputs: dict[tuple[str, int], list[grpcclient.InferInput]] = {}

    def inputs(self, request: BenchRequest) -> list[grpcclient.InferInput]:
        """The input tensors of a prompt, built once (as perf_analyzer prepares its data)."""
        key = (request.text, request.max_tokens)
        if key not in self._inputs:
            text = grpcclient.InferInput("text_input", [1, 1], "BYTES")
            text.set_data_from_numpy(np.array([[request.text.encode()]], dtype=np.object_))
            tokens = grpcclient.InferInput("max_tokens", [1, 1], "INT32")
            tokens.set_data_from_numpy(np.array([[request.max_tokens]], dtype=np.int32))
            self._inputs[key] = [text, tokens]
        return self._inputs[key]

    async def __call__(self, request: BenchRequest, slot: Slot) -> RequestRecord:
        inputs = self.inputs(request)
        sent = time.perf_counter()
        status, kind, message = "ok", None, None
        try:
            await self.client.infer(self.model, inputs)
        except InferenceServerException as error:
            status, kind, message = "error", "InferenceServer", str(error)
        end = time.perf_counter()
        return RequestRecord(
            index=request.index,
            sla=request.sla,
            endpoint=self.model,
            warmup=slot.warmup,
            status=status,  # type: ignore[arg-type]
            input_tokens=request.input_tokens,
            max_tokens=request.max_tokens,
            output_tokens=1 if status == "ok" else 0,
            scheduled=slot.scheduled,
            sent=sent,
            first_token=end if status == "ok" else None,
            end=end,
            chunks=(end,) if status == "ok" else (),
            error_kind=kind,
            error=message,
        )


def ours_unary(
    endpoints: Endpoints, model: str, concurrency: int, duration_s: float = 8.0
) -> RunSummary:
    """Our scheduler, records and metrics with UnarySender at `concurrency`."""

    async def main() -> RunSummary:
        sender = UnarySender(endpoints.grpc_address, model)
        entry = PromptEntry(PROMPT, None, 16, "realtime")
        workload = Workload(PromptFile(Path("inline"), (entry,)), TokenLengths(16))
        try:
            run = await run_once(
                Concurrent(concurrency),
                Limits(duration_s=duration_s, warmup_s=1.0),
                workload,
                sender,
                {},
            )
        finally:
            await sender.client.close()
        return run.summary

    return asyncio.run(main())
