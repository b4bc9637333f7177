"""What the OpenAI gateway adds to time to first token, and its CPU per request.

One CPU tritonserver serves deploy/cpu.yaml; `tritonsla gateway` runs as its own process in
front of it, as in production. At each concurrency (1 and 8) every worker takes turns on three
paths, so all see the same engine load at the same moments:

- direct: the routing SDK (AsyncSlaClient.stream) straight to the server over gRPC;
- gateway, httpx2: POST /v1/completions with `"stream": true` (SSE) through the gateway, sent
  and read by httpx2, the HTTP client of the `openai` SDK;
- gateway, minimal client: the same request written in one piece on a kept-alive HTTP/1.1
  connection and the response read straight off the socket: close to nothing on the client
  side, so its difference to direct is what the gateway itself adds, and what separates it from
  the httpx2 path is the client's own work.

Same class (interactive: in-flight batch 16, so 8 concurrent requests are not refused), same
prompt, greedy, 4 tokens. TTFT is taken when the first text reaches the caller. Printed per
client: p50 and p95 TTFT, the difference of the p50s (gateway minus direct) and their ratio; and
the gateway's CPU time (user + system, from /proc) per gateway request of each phase, less what
it spends idle over the same time (its SDK polls the server's load in the background).

    .venv/bin/python benchmarks/gateway_overhead.py [--requests 200] [--concurrency 1 8]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import httpx2
from rich.console import Console
from rich.table import Table

from tritonsla.bench.fixtures.serving import (
    DEPLOY,
    gateway_process,
    script_parser,
    served_repository,
)
from tritonsla.routing import AsyncSlaClient
from tritonsla.server import free_ports

SLA = "interactive"
PROMPT = "The morning train left the station a few minutes late."
MAX_TOKENS = 4
WARMUP = 8
IDLE_S = 5.0
TARGET_MS = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (utime and stime of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def direct_ttft(client: AsyncSlaClient) -> float:
    start = time.perf_counter()
    async with client.stream(PROMPT, sla=SLA, max_tokens=MAX_TOKENS, temperature=0.0) as chunks:
        first = None
        async for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
    assert first is not None, "the answer had no text"
    return first - start


BODY = {
    "model": f"tiny-gpt2:{SLA}",
    "prompt": PROMPT,
    "max_tokens": MAX_TOKENS,
    "temperature": 0.0,
    "stream": True,
}


def has_text(event: bytes | str) -> bool:
    """Whether an SSE data payload is a completion chunk carrying text."""
    return bool(json.loads(event)["choices"][0]["text"])


async def gateway_ttft(http: httpx2.AsyncClient) -> float:
    body = BODY
    start = time.perf_counter()
    first = None
    async with http.stream("POST", "/v1/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            text = first is None and line.startswith("data: {")
            if text and has_text(line[6:]):
                first = time.perf_counter()
    assert first is not None, "the stream had no text"
    return first - start


class MinimalClient:
    """HTTP/1.1 with nothing on top, on one kept-alive connection: the request in one write,
    the chunked SSE response read off the socket and split by hand."""

    def __init__(self, port: int) -> None:
        self.port = port
        body = json.dumps(BODY).encode()
        self.request = (
            f"POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def ttft(self) -> float:
        if self.connection is None:
            self.connection = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.connection
        start = time.perf_counter()
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head.decode(errors="replace")
        assert b"transfer-encoding: chunked" in head.lower(), "expected a chunked stream"
        first = None
        pending = b""
        while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
            pending += (await reader.readexactly(size + 2))[:-2]
            *events, pending = pending.split(b"\n\n")
            for event in events:
                if first is None and event.startswith(b"data: {") and has_text(event[6:]):
                    first = time.perf_counter()
        await reader.readexactly(2)  # the chunked body's last CRLF
        assert first is not None, "the stream had no text"
        return first - start

    async def aclose(self) -> None:
        if self.connection is not None:
            self.connection[1].close()
            await self.connection[1].wait_closed()


PATHS = ("direct", "httpx2", "minimal client")


async def phase(
    client: AsyncSlaClient, http: httpx2.AsyncClient, port: int, concurrency: int, requests: int
) -> dict[str, list[float]]:
    """`requests` per path at `concurrency`, each worker taking the paths in turn; TTFTs in ms."""
    ttfts: dict[str, list[float]] = {path: [] for path in PATHS}
    per_worker = max(1, requests // concurrency)

    async def worker(index: int) -> None:
        minimal = MinimalClient(port)
        runs = {
            "direct": lambda: direct_ttft(client),
            "httpx2": lambda: gateway_ttft(http),
            "minimal client": minimal.ttft,
        }
        try:
            for i in range(per_worker):
                shift = (i + index) % len(PATHS)
                for path in PATHS[shift:] + PATHS[:shift]:
                    ttfts[path].append(await runs[path]() * 1000)
        finally:
            await minimal.aclose()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return ttfts


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def measure(grpc_address: str, gateway_pid: int, port: int, args) -> Table:
    table = Table(title=f"TTFT, {SLA} class, {MAX_TOKENS} tokens (ms)")
    for column in (
        "concurrency",
        "gateway client",
        "requests/path",
        "direct p50",
        "gateway p50",
        "added p50",
        "ratio p50",
        "direct p95",
        "gateway p95",
        "gateway CPU/request",
    ):
        table.add_column(column, justify="right")
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        AsyncSlaClient.from_deploy(DEPLOY, replicas=[grpc_address]) as client,
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as http,
    ):
        await phase(client, http, port, 2, WARMUP)
        before = cpu_s(gateway_pid)
        await asyncio.sleep(IDLE_S)  # what the gateway spends without requests (load polling)
        idle_rate = (cpu_s(gateway_pid) - before) / IDLE_S
        for concurrency in args.concurrency:
            cpu_before, started = cpu_s(gateway_pid), time.monotonic()
            ttfts = await phase(client, http, port, concurrency, args.requests)
            idle_s = idle_rate * (time.monotonic() - started)
            served = len(ttfts["httpx2"]) + len(ttfts["minimal client"])
            cpu_ms = (cpu_s(gateway_pid) - cpu_before - idle_s) * 1000 / served
            direct = ttfts["direct"]
            for path in PATHS[1:]:
                gateway = ttfts[path]
                added = statistics.median(gateway) - statistics.median(direct)
                table.add_row(
                    str(concurrency),
                    path,
                    str(len(gateway)),
                    f"{statistics.median(direct):.2f}",
                    f"{statistics.median(gateway):.2f}",
                    f"{added:+.2f}",
                    f"{statistics.median(gateway) / statistics.median(direct):.3f}",
                    f"{p(direct, 95):.2f}",
                    f"{p(gateway, 95):.2f}",
                    f"{cpu_ms:.2f} ms" if path == PATHS[1] else "",
                )
    table.caption = f"gateway CPU when idle: {idle_rate * 1000:.1f} ms/s, subtracted above"
    return table


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--requests", type=int, default=200, help="per path and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    console = Console(width=150)
    with served_repository() as endpoints:
        (port,) = free_ports(1)
        with gateway_process(endpoints.grpc_address, port) as gateway:
            table = asyncio.run(measure(endpoints.grpc_address, gateway.pid, port, args))
    console.print(table)
    console.print(
        f"target: under {TARGET_MS:g} ms added at p50. CPU/request: the gateway process's "
        "user + system time over the phase less its idle rate, divided by its requests (both "
        "clients'). minimal client - direct: the gateway's own share; httpx2 - minimal client: "
        "the client's."
    )


if __name__ == "__main__":
    main()
