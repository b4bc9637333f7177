"""A rendered repository serves without tritonsla installed: its Python travels with it.

The bundled tritonserver is started with a `python3` on PATH whose environment has the
third-party packages (numpy, tokenizers, safetensors, ...) but not tritonsla: a venv that sees
.venv's site-packages through a path entry, which adds the folder but does not run the .pth
files in it, so tritonsla's editable-install hook never loads. The models then import tritonsla
from the repository's own bundle, `.tritonsla.zip`.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import tritonclient.http as httpclient

from tests.integration.conftest import ROOT, variant_deploy
from tests.integration.grpc_helpers import generate
from tritonsla import contract
from tritonsla.assets import write_default_model
from tritonsla.repo.bundle import BUNDLE, read_stamp
from tritonsla.repo.pipeline import render
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import free_ports
from tritonsla.server.process import TritonServer

pytestmark = pytest.mark.integration
PROMPT = "The quick brown fox jumps over the lazy dog because"


def _deps_only_python(folder: Path) -> Path:
    """A venv whose python3 imports .venv's third-party packages but not tritonsla."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    site = Path(
        subprocess.check_output(
            [
                str(folder / "bin" / "python3"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            text=True,
        ).strip()
    )
    (site / "third_party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return folder / "bin" / "python3"


def _imports(python: Path, module: str, cwd: Path) -> bool:
    code = f"import {module}"
    return subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    workdir = tmp_path_factory.mktemp("self-contained")
    python = _deps_only_python(workdir / "deps-venv")
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    repo = workdir / "model_repo"
    render(variant_deploy(workdir, ["interactive"]), repo)
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(
        model_repository=repo, http_port=http, grpc_port=grpc, metrics_port=metrics
    )
    patch = pytest.MonkeyPatch()
    patch.setattr(sys, "executable", str(python))  # the launcher puts its folder first on PATH
    server = TritonServer(options, log_file=workdir / "tritonserver.log", startup_timeout=180)
    try:
        with server:
            yield python, repo, server
    finally:
        patch.undo()


def test_the_serving_python_has_the_dependencies_but_not_tritonsla(stock_server, tmp_path):
    python, repo, _ = stock_server
    stamp = read_stamp(repo / BUNDLE)
    for module in stamp["requires"]:
        assert _imports(python, module, tmp_path), f"{module} is missing from the deps venv"
    assert not _imports(python, "tritonsla", tmp_path)
    assert stamp["tritonsla"] and len(stamp["sha256"]) == 64
    assert "tritonsla.cpu.engine" in stamp["modules"]


def test_stock_server_serves_the_rendered_repository_from_its_bundle(stock_server):
    _, _, server = stock_server
    client = httpclient.InferenceServerClient(server.endpoints.http_address)
    names = [contract.model_name("interactive", role) for role in contract.MODEL_ROLES]
    assert {name: client.is_model_ready(name) for name in names} == dict.fromkeys(names, True)
    url = server.endpoints.grpc_address
    streamed = generate(url, contract.model_name("interactive", "ensemble"), PROMPT, 8)
    assert streamed.error is None and streamed.text
    bls = generate(url, contract.model_name("interactive", "tensorrt_llm_bls"), PROMPT, 8, False)
    assert bls.error is None and bls.text == streamed.text
