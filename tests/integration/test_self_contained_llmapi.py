"""The rendered llmapi repository served the same way: a Python with the third-party packages
and a stand-in `tensorrt_llm` (tests/integration/standin_trtllm), no tritonsla.

Checks what only a running server shows: the llmapi model loads its model.yaml, passes the LLM()
arguments without Triton's own keys and with the model path resolved, and streams the
generated text through the ensemble and the BLS model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import ROOT
from tests.integration.grpc_helpers import generate
from tests.integration.test_self_contained_repo import PROMPT, _deps_only_python, _imports
from tritonsla import contract
from tritonsla.assets import write_default_model
from tritonsla.repo.pipeline import render
from tritonsla.server.command import ServerOptions
from tritonsla.server.ports import free_ports
from tritonsla.server.process import TritonServer

pytestmark = pytest.mark.integration
STANDIN = Path(__file__).with_name("standin_trtllm")
TWIN = ROOT / "deploy" / "h100-llama8b-llmapi.yaml"


def _llmapi_deploy(folder: Path) -> Path:
    """The llmapi twin serving `interactive` from the tiny model, with local paths."""
    data = yaml.safe_load(TWIN.read_text())
    model = str(ROOT / "assets" / "tiny-gpt2")
    data.update(
        profiles=["interactive"],
        profiles_dir=str(ROOT / "profiles"),
        engines_dir=str(folder / "engines"),
        overrides={"interactive": {"engine": {"max_seq_len": 1024, "max_input_len": 512}}},
    )
    data["model"].update(checkpoint=model, tokenizer=model)
    data["server"]["host"] = "127.0.0.1"
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def llmapi_server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("self-contained-llmapi")
    python = _deps_only_python(workdir / "deps-venv")
    site = next((workdir / "deps-venv" / "lib").glob("python3.*/site-packages"))
    (site / "standin_trtllm.pth").write_text(f"{STANDIN}\n")
    write_default_model(ROOT / "assets" / "tiny-gpt2")
    repo = workdir / "model_repo"
    render(_llmapi_deploy(workdir), repo)
    record = workdir / "llm_kwargs.jsonl"
    http, grpc, metrics = free_ports(3)
    options = ServerOptions(
        model_repository=repo, http_port=http, grpc_port=grpc, metrics_port=metrics
    )
    patch = pytest.MonkeyPatch()
    patch.setattr(sys, "executable", str(python))
    patch.setenv("STANDIN_LLM_RECORD", str(record))
    server = TritonServer(options, log_file=workdir / "tritonserver.log", startup_timeout=180)
    try:
        with server:
            yield python, record, server, workdir
    finally:
        patch.undo()


def test_the_llm_gets_the_rendered_arguments_without_tritons_keys(llmapi_server):
    python, record, _, workdir = llmapi_server
    assert not _imports(python, "tritonsla", workdir)
    assert _imports(python, "tensorrt_llm", workdir)
    [kwargs] = [json.loads(line) for line in record.read_text().splitlines()]
    assert kwargs["model"] == str(ROOT / "assets" / "tiny-gpt2")
    assert "triton_config" not in kwargs and kwargs["backend"] == "pytorch"
    assert (kwargs["max_batch_size"], kwargs["max_seq_len"]) == (32, 1024)
    assert kwargs["scheduler_config"] == {"capacity_scheduler_policy": "GUARANTEED_NO_EVICT"}


def test_llmapi_repository_streams_through_ensemble_and_bls(llmapi_server):
    _, _, server, _ = llmapi_server
    url = server.endpoints.grpc_address
    streamed = generate(url, contract.model_name("interactive", "ensemble"), PROMPT, 6)
    assert streamed.error is None, streamed.error
    assert len(streamed.texts) >= 2 and streamed.text
    whole = generate(url, contract.model_name("interactive", "tensorrt_llm_bls"), PROMPT, 6, False)
    assert whole.error is None and whole.text == streamed.text
