"""What `SlaClient` and `AsyncSlaClient` share: construction, the router, the monitor, a call's
attempts and its answer. Each twin keeps only its transport (as pytriton's `BaseModelClient`
and httpx's sync/async clients do).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from typing_extensions import Self, TypedDict, Unpack

from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.attempts import Attempts
from tritonsla.routing.call import Call
from tritonsla.routing.monitor import DEFAULT_INTERVAL_S, Monitor
from tritonsla.routing.result import GenerationResult
from tritonsla.routing.router import Router
from tritonsla.routing.table import EndpointTable, Replica, Target
from tritonsla.routing.timeout import DEFAULT_TIMEOUT, Timeout


class ClientOptions(TypedDict, total=False):
    """Keyword arguments of both clients (defaults in `BaseSlaClient.__init__`)."""

    timeout: Timeout
    default_sla: str | None
    batch_sla: str | None
    poll_interval: float


class BaseSlaClient(ABC):
    """Routes each request to its SLA class's endpoint; a subclass carries the requests.

    `timeout`: every call's Timeout unless the call gives its own. Requests with neither class
    nor deadline go to `batch_sla` when low priority (default: the loosest class), else to
    `default_sla` (default: the loosest of the others). `poll_interval`: seconds between polls
    of a replica's load.
    """

    def __init__(
        self,
        table: EndpointTable,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        default_sla: str | None = None,
        batch_sla: str | None = None,
        poll_interval: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.router = Router(table, default_sla=default_sla, batch_sla=batch_sla)
        self.timeout = timeout
        self._monitor = Monitor(self.router, poll_interval, on_gone=self._replica_gone)

    @classmethod
    def from_deploy(
        cls,
        deploy: str | Path,
        sets: list[str] | None = None,
        *,
        target: Target = "bls",
        replicas: list[Replica | str] | None = None,
        **options: Unpack[ClientOptions],
    ) -> Self:
        """A client of the deploy file's endpoints (`sets` as `--set`; `replicas` overrides)."""
        deployment = load_deployment(Path(deploy), sets)
        return cls.from_deployment(deployment, target=target, replicas=replicas, **options)

    @classmethod
    def from_deployment(
        cls,
        deployment: Deployment,
        *,
        target: Target = "bls",
        replicas: list[Replica | str] | None = None,
        **options: Unpack[ClientOptions],
    ) -> Self:
        """A client of a loaded Deployment's endpoints."""
        table = EndpointTable.from_deployment(deployment, target=target, replicas=replicas)
        return cls(table, **options)

    def _attempts(self, call: Call) -> Attempts:
        """The attempt loop of `call` over this client's router."""
        return Attempts(self.router, call, drop=self._drop)

    @abstractmethod
    def _drop(self, address: str) -> None:
        """Let go of the connections kept for `address` (out of rotation, or gone); requests
        still on them end on their own."""

    def _replica_gone(self, address: str) -> None:
        """Discovery dropped `address` (called from the monitor's thread)."""
        self._drop(address)


class BaseTokenStream:
    """The chunks of one call as they arrive; `result` once the answer is complete."""

    def __init__(self, attempts: Attempts) -> None:
        self.call = attempts.call
        self._attempts = attempts

    @property
    def result(self) -> GenerationResult:
        result = self._attempts.result
        if result is None:
            raise RuntimeError("the stream has not finished; iterate it to the end first")
        return result
