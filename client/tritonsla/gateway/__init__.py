"""`tritonsla gateway`: an OpenAI-compatible HTTP server in front of one deployment's router.

    app = create_app(load_deployment(Path("deploy/cpu.yaml")))
    serve(app, "127.0.0.1", 9000)          # or: tritonsla gateway --deploy deploy/cpu.yaml

Everything comes from the deploy and profile files the SDK reads: the classes (`/v1/models`
lists `<model>` and `<model>:<class>`), their limits, SLOs and replicas, and the tokenizer and
chat template. Modules: `schema` (request bodies), `plan` (class choice and limits), `chat`
(sandboxed chat templates), `stops`, `responses` (OpenAI bodies), `errors` (statuses),
`metrics`, `readiness`, `streaming` (the SSE response, the disconnect watch), `app`
(handlers), `runner` (uvicorn).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette

from tritonsla.gateway.app import Gateway, build_app
from tritonsla.gateway.chat import load_chat_template
from tritonsla.gateway.metrics import GatewayMetrics
from tritonsla.gateway.plan import Catalog
from tritonsla.gateway.readiness import Readiness
from tritonsla.gateway.runner import GatewayThread, serve
from tritonsla.gateway_protocol import API_KEY_ENV
from tritonsla.profiles.loading import Deployment
from tritonsla.routing import AsyncSlaClient, Replica, Timeout
from tritonsla.text.tokenizer import load_tokenizer

GATEWAY_TIMEOUT = Timeout(600.0, connect=5.0, first_token=120.0)
"""Per request: a batch-class answer may take minutes; a first token later than 2 min marks the
replica suspect. A request's own deadline (x-request-deadline-ms) shortens the total."""


def create_app(
    deployment: Deployment,
    *,
    replicas: Sequence[Replica | str] | None = None,
    api_key: str | None = None,
    timeout: Timeout = GATEWAY_TIMEOUT,
) -> Starlette:
    """The gateway app of `deployment` (`replicas` replaces the deploy file's servers).

    Raises ModelDataError when the deploy's tokenizer (or its chat template) cannot be loaded.
    """
    client = AsyncSlaClient.from_deployment(
        deployment, replicas=list(replicas) if replicas else None, timeout=timeout
    )
    folder = deployment.path(deployment.deploy.model.tokenizer)
    catalog = Catalog(
        deployment.deploy.model.name,
        client.router.policy,
        load_tokenizer(folder),
        load_chat_template(folder),
    )
    metrics = GatewayMetrics(catalog.classes)
    gateway = Gateway(client, catalog, metrics, Readiness(client.router.table), api_key or None)
    return build_app(gateway)


__all__ = ["API_KEY_ENV", "GatewayThread", "create_app", "serve"]
