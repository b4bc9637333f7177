"""Fixtures of the gateway unit tests: deploy/cpu.yaml with a tokenizer made in a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tritonsla.gateway.chat import load_chat_template
from tritonsla.gateway.plan import Catalog
from tritonsla.profiles.loading import Deployment, load_deployment
from tritonsla.routing.policy import RoutingPolicy
from tritonsla.routing.table import EndpointTable
from tritonsla.text.default_tokenizer import write_default_tokenizer
from tritonsla.text.tokenizer import load_tokenizer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_default_tokenizer(folder)
    return folder


@pytest.fixture(scope="session")
def deployment(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """deploy/cpu.yaml as shipped, its model folders pointing at the tmp tokenizer."""
    data = yaml.safe_load((ROOT / "deploy" / "cpu.yaml").read_text())
    data["profiles_dir"] = str(ROOT / "profiles")
    data["model"]["checkpoint"] = data["model"]["tokenizer"] = str(tokenizer_dir)
    path = tmp_path_factory.mktemp("deploy") / "cpu.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_deployment(path)


@pytest.fixture(scope="session")
def catalog(deployment: Deployment, tokenizer_dir: Path) -> Catalog:
    table = EndpointTable.from_deployment(deployment, replicas=["127.0.0.1:1"])
    return Catalog(
        "tiny-gpt2",
        RoutingPolicy(table),
        load_tokenizer(tokenizer_dir),
        load_chat_template(tokenizer_dir),
    )
