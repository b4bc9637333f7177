"""Real tritonserver fixtures: render a deployment into tmp, serve it, always stop it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tritonsla.assets import write_default_model
from tritonsla.profiles.loading import Deployment
from tritonsla.repo.pipeline import render
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import Endpoints, free_ports
from tritonsla.server.process import TritonServer

ROOT = Path(__file__).resolve().parents[2]
CPU_DEPLOY = ROOT / "deploy" / "cpu.yaml"


@dataclass(frozen=True)
class ServedDeployment:
    """A rendered deployment and the running server that serves it."""

    deployment: Deployment
    repo: Path
    server: TritonServer
    log_file: Path

    @property
    def endpoints(self) -> Endpoints:
        return self.server.endpoints


def variant_deploy(folder: Path, profiles: list[str], overrides: dict | None = None) -> Path:
    """A deploy file like deploy/cpu.yaml serving only `profiles`, with `overrides` replacing
    the shipped ones (absolute paths, so it can live anywhere)."""
    data = yaml.safe_load(CPU_DEPLOY.read_text())
    data["profiles"] = profiles
    data.pop("budget")  # a variant is not the compared budget
    data["profiles_dir"] = str(ROOT / "profiles")
    data["model"]["checkpoint"] = data["model"]["tokenizer"] = str(ROOT / "assets" / "tiny-gpt2")
    data["overrides"] = {
        name: {**data["overrides"].get(name, {}), **(overrides or {}).get(name, {})}
        for name in profiles
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextmanager
def serve_deployment(
    workdir: Path, deploy: Path = CPU_DEPLOY, sets: list[str] | None = None
) -> Iterator[ServedDeployment]:
    """Render `deploy` (with `--set` values) under `workdir` and serve it until the block ends."""
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    repo = workdir / "model_repo"
    result = render(deploy, repo, sets=sets)
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(
        model_repository=repo,
        http_port=http,
        grpc_port=grpc,
        metrics_port=metrics,
        # Triton keeps an ensemble "live" after some requests (shared ids, rejections inside
        # it) until its exit timeout: 30 s per such teardown is wasted in tests.
        exit_timeout_s=5,
    )
    log_file = workdir / "tritonserver.log"
    server = TritonServer(options, log_file=log_file, blas_threads=1, startup_timeout=180)
    with server:
        yield ServedDeployment(result.deployment, repo, server, log_file)


@pytest.fixture(scope="session")
def cpu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDeployment]:
    """deploy/cpu.yaml as shipped: all three SLA endpoints on one server."""
    with serve_deployment(tmp_path_factory.mktemp("cpu-server")) as served:
        yield served


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServedDeployment]]:
    """Start a server for a variant of a deployment: `serve(sets=[...], deploy=...)`."""
    stack: list = []

    def start(sets: list[str] | None = None, deploy: Path = CPU_DEPLOY) -> ServedDeployment:
        context = serve_deployment(tmp_path / f"server{len(stack)}", deploy, sets)
        served = context.__enter__()
        stack.append(context)
        return served

    try:
        yield start
    finally:
        while stack:
            stack.pop().__exit__(None, None, None)
