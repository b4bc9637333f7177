"""GET /health/ready: ready only when every SLA class has a replica whose model is ready.

Each check asks the replicas (gRPC ModelReady of the class's model, bounded by a timeout) and
is reused for `CACHE_S`, so a load balancer probing often does not multiply the calls.
"""

from __future__ import annotations

import asyncio
import time

from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from tritonsla.routing.table import EndpointTable

CACHE_S = 1.0
CHECK_TIMEOUT_S = 1.0


class Readiness:
    """Per class: is a replica ready? (Replicas and models from the router's table.)"""

    def __init__(self, table: EndpointTable) -> None:
        self.table = table
        self._clients: dict[str, InferenceServerClient] = {}
        self._last: tuple[float, dict[str, bool]] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> dict[str, bool]:
        """{class: ready} (cached for CACHE_S)."""
        async with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < CACHE_S:
                return self._last[1]
            classes = list(self.table.endpoints.items())
            await self._drop_clients_of_gone_replicas()
            answers = await asyncio.gather(*(self._class_ready(e) for _, e in classes))
            state = {sla: ready for (sla, _), ready in zip(classes, answers, strict=True)}
            self._last = (time.monotonic(), state)
            return state

    async def _class_ready(self, endpoint) -> bool:
        for replica in endpoint.replicas:
            if await self._model_ready(replica.address, endpoint.model):
                return True
        return False

    async def _model_ready(self, address: str, model: str) -> bool:
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = InferenceServerClient(address)
        try:
            return bool(await client.is_model_ready(model, client_timeout=CHECK_TIMEOUT_S))
        except InferenceServerException:
            return False

    async def _drop_clients_of_gone_replicas(self) -> None:
        """Close the clients of addresses discovery has dropped (pod IPs change on rollouts)."""
        current = {r.address for e in self.table.endpoints.values() for r in e.replicas}
        for address in [a for a in self._clients if a not in current]:
            await self._clients.pop(address).close()

    async def close(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.close()
