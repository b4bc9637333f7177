"""The shared topology on a real tritonserver: one engine, classes as priority levels.

A small variant of deploy/cpu-shared.yaml (one engine instance with few slots) makes the engine
easy to saturate: realtime requests must overtake queued batch work, pause running batch work
(max_utilization), and the paused request must resume with its output unchanged.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ROOT, ServedDeployment
from tritonsla.routing import AsyncSlaClient, Replica

pytestmark = pytest.mark.integration

PROMPT = "Once upon a time"


def shared_variant(folder: Path, **engine: object) -> Path:
    """deploy/cpu-shared.yaml with one engine instance (unless `engine` says) sized by `engine`
    (absolute paths)."""
    data = yaml.safe_load((ROOT / "deploy" / "cpu-shared.yaml").read_text())
    data["profiles_dir"] = str(ROOT / "profiles")
    data["model"]["checkpoint"] = data["model"]["tokenizer"] = str(ROOT / "assets" / "tiny-gpt2")
    data["shared_engine"].update({"instances": 1, **engine})
    data.pop("budget")  # a test-sized engine, not the compared budget
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def preemptions(served: ServedDeployment) -> float:
    text = urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()
    found = re.search(
        r'^tritonsla_engine_preemptions_total\{model="tensorrt_llm",[^}]*\} (\S+)$', text, re.M
    )
    assert found, "no tritonsla_engine_preemptions_total for the shared engine"
    return float(found.group(1))


def test_engine_instances_add_up_in_tensorrt_llm_metrics(serve, tmp_path):
    # Triton keeps one series per label set, so both instances of the engine add to it: the
    # router and schedulers see the model's slots and blocks, not one instance's.
    deploy = shared_variant(tmp_path, instances=2, max_batch_size=2, kv_cache={"max_tokens": 1024})
    served = serve(deploy=deploy)
    text = urllib.request.urlopen(served.endpoints.metrics_url, timeout=10).read().decode()
    found = {
        (
            family.name,
            sample.labels.get("request_type") or sample.labels["kv_cache_block_type"],
        ): sample.value
        for family in text_string_to_metric_families(text)
        if family.name in ("nv_trt_llm_request_metrics", "nv_trt_llm_kv_cache_block_metrics")
        for sample in family.samples
        if sample.labels["model"] == "tensorrt_llm"
    }
    requests, blocks = "nv_trt_llm_request_metrics", "nv_trt_llm_kv_cache_block_metrics"
    assert found == {
        (requests, "active"): 0,
        (requests, "scheduled"): 0,
        (requests, "waiting"): 0,
        (requests, "max"): 4,  # 2 slots x 2 instances
        (blocks, "max"): 64,  # 1024 tokens / 32 per block x 2 instances
        (blocks, "free"): 64,
        (blocks, "used"): 0,
        (blocks, "tokens_per"): 32,  # each instance adds half of its own
        (blocks, "fraction"): 0,
    }


def client(served: ServedDeployment, target: str = "bls") -> AsyncSlaClient:
    address = Replica(served.endpoints.grpc_address, served.endpoints.metrics_url)
    return AsyncSlaClient.from_deployment(served.deployment, replicas=[address], target=target)


def test_realtime_overtakes_and_pauses_batch_work_whose_output_is_unchanged(serve, tmp_path):
    served = serve(deploy=shared_variant(tmp_path, max_batch_size=2))
    finished: dict[str, float] = {}
    texts: dict[str, str] = {}

    async def send(sdk: AsyncSlaClient, name: str, sla: str, max_tokens: int) -> None:
        result = await sdk.generate(PROMPT, sla=sla, max_tokens=max_tokens, stream=False)
        finished[name] = time.monotonic()
        texts[name] = result.text

    async def run() -> str:
        async with client(served, "ensemble") as sdk:
            for sla in ("batch", "realtime"):  # warm both paths: first calls load lazily
                await sdk.generate(PROMPT, sla=sla, max_tokens=1, stream=False)
            tasks = [asyncio.create_task(send(sdk, f"long{i}", "batch", 480)) for i in (1, 2)]
            await asyncio.sleep(0.2)  # the long jobs hold both slots
            tasks += [asyncio.create_task(send(sdk, f"b{i}", "batch", 100)) for i in (1, 2)]
            await asyncio.sleep(0.1)  # b1 and b2 wait
            tasks += [asyncio.create_task(send(sdk, f"r{i}", "realtime", 8)) for i in (1, 2)]
            await asyncio.gather(*tasks)
            alone = await sdk.generate(PROMPT, sla="batch", max_tokens=480, stream=False)
            return alone.text

    uninterrupted = asyncio.run(run())
    order = sorted(finished, key=finished.get)
    # realtime overtook waiting and running batch work (a second realtime request that arrives
    # with the first is at times handed to the engine late by Triton: see the issue note)
    assert order[0] in ("r1", "r2"), order
    assert preemptions(served) >= 1  # a long job was paused for it
    assert texts["long1"] == texts["long2"] == uninterrupted  # and resumed to the same output


def test_realtime_meets_its_ttft_slo_while_batch_saturates_the_shared_engine(serve, tmp_path):
    served = serve(deploy=shared_variant(tmp_path, max_batch_size=8))
    slo = served.deployment.profiles["realtime"].slo
    workers = 12  # more batch work than the engine has slots

    async def run() -> list[float]:
        async with client(served) as batch_sdk, client(served, "ensemble") as realtime_sdk:
            stop = asyncio.Event()

            async def batch_worker() -> None:
                while not stop.is_set():
                    await batch_sdk.generate(
                        PROMPT * 8, sla="batch", max_tokens=128, stream=False, timeout=120
                    )

            tasks = [asyncio.create_task(batch_worker()) for _ in range(workers)]
            try:
                await asyncio.sleep(1.0)
                ttft = []
                for _ in range(20):  # through the ensemble: preprocessing passes the level
                    result = await realtime_sdk.generate(PROMPT, sla="realtime", max_tokens=16)
                    ttft.append(result.ttft_s * 1000)
                return ttft
            finally:
                stop.set()
                await asyncio.gather(*tasks)

    ttft = asyncio.run(run())
    p95 = statistics.quantiles(ttft, n=20, method="inclusive")[-1]
    print(f"shared engine, batch saturating it: realtime TTFT p95 {p95:.1f} ms (SLO {slo.ttft_ms})")
    assert preemptions(served) >= 1
    assert p95 <= slo.ttft_ms
