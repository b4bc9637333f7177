"""The package's names load their modules on first use, so a client import stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import tritonsla.server


def test_importing_ports_loads_no_other_server_module() -> None:
    code = (
        "import sys, tritonsla.server.ports; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('tritonsla.server'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert loaded == ["tritonsla.server", "tritonsla.server.ports"]


@pytest.mark.parametrize("name", tritonsla.server.__all__)
def test_every_exported_name_is_its_module_s_object(name: str) -> None:
    home = importlib.import_module(f"tritonsla.server.{tritonsla.server._HOME[name]}")
    assert getattr(tritonsla.server, name) is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"'tritonsla\.server' has no attribute 'TritonSever'"):
        _ = tritonsla.server.TritonSever  # type: ignore[attr-defined]
