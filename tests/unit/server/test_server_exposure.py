"""Binding beyond loopback restricts every management API group, and says what stays open."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tritonsla.cli.serve_cmd import exit_status, server_options
from tritonsla.errors import ServerError
from tritonsla.profiles.loading import load_deployment
from tritonsla.server.command import (
    ADMIN_KEY_HEADER,
    ServerOptions,
    exposure_warning,
    tritonserver_argv,
)

ROOT = Path(__file__).resolve().parents[3]
EXPOSED = "model-repository,model-config,shared-memory,trace,logging"


def restrictions(options: ServerOptions) -> list[str]:
    argv = tritonserver_argv(options, executable="tritonserver")
    return [arg for arg in argv if "restricted" in arg]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.5", "::1", "localhost"])
def test_loopback_restricts_model_control_only(address: str) -> None:
    options = ServerOptions(Path("/m"), address=address, admin_key="KEY")
    assert restrictions(options) == [
        f"--http-restricted-api=model-repository:{ADMIN_KEY_HEADER}=KEY",
        f"--grpc-restricted-protocol=model-repository:{ADMIN_KEY_HEADER}=KEY",
    ]
    assert exposure_warning(options) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", "::", "gpu-node-1"])
def test_beyond_loopback_restricts_every_management_group(address: str) -> None:
    options = ServerOptions(Path("/m"), address=address, admin_key="KEY")
    assert restrictions(options) == [
        f"--http-restricted-api={EXPOSED}:{ADMIN_KEY_HEADER}=KEY",
        f"--grpc-restricted-protocol={EXPOSED}:{ADMIN_KEY_HEADER}=KEY",
    ]
    warning = exposure_warning(options)
    assert warning is not None
    assert "health, metadata, inference, statistics; the metrics port is open too" in warning
    assert "command line" in warning


def test_unknown_api_group_is_refused() -> None:
    with pytest.raises(ServerError, match="`restricted_apis` names models; allowed: health"):
        ServerOptions(Path("/m"), restricted_apis=("models",))


def _serve_args(*, host: str, open_model_control: bool) -> argparse.Namespace:
    return argparse.Namespace(
        host=host,
        http_port=None,
        grpc_port=None,
        metrics_port=None,
        open_model_control=open_model_control,
    )


def test_open_model_control_keeps_the_other_groups_restricted_beyond_loopback() -> None:
    dep = load_deployment(ROOT / "deploy" / "cpu.yaml")
    exposed = server_options(
        dep, ROOT / "model_repo", _serve_args(host="0.0.0.0", open_model_control=True)
    )
    assert exposed.restricted == ("model-config", "shared-memory", "trace", "logging")
    assert exposed.admin_key is not None
    local = server_options(
        dep, ROOT / "model_repo", _serve_args(host="127.0.0.1", open_model_control=True)
    )
    assert local.restricted == () and local.admin_key is None
    assert restrictions(local) == []


@pytest.mark.parametrize(("code", "status"), [(-9, 137), (-15, 143), (3, 3), (0, 1)])
def test_foreground_exit_status_follows_the_server(code: int, status: int) -> None:
    assert exit_status(code) == status
