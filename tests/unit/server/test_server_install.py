"""Finding tritonserver and preparing the bundled server's backends folder."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tritonsla.errors import ServerError
from tritonsla.server import install as install_module
from tritonsla.server.install import (
    PyTritonLayout,
    check_libpython,
    find_tritonserver,
    prepare_backend_directory,
)

VERSION = sys.version_info[:2]
VERSION_TEXT = "{}.{}".format(*VERSION)


def fake_wheel(site: Path, with_stub: bool = True) -> PyTritonLayout:
    """A site-packages folder laid out like nvidia-pytriton's wheel, with tiny files."""
    layout = PyTritonLayout(site / "pytriton")
    layout.executable.parent.mkdir(parents=True)
    layout.executable.write_text("#!/bin/sh\n")
    layout.executable.chmod(0o755)
    layout.libs_dir.mkdir()
    (layout.libs_dir / f"libpython{VERSION_TEXT}.so.1.0").write_text("")
    for name, path in layout.backend_files(VERSION).items():
        if name == "triton_python_backend_stub" and not with_stub:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"contents of {name}")
        path.chmod(0o755)
    return layout


def test_backend_directory_is_prepared(tmp_path: Path) -> None:
    files = fake_wheel(tmp_path / "site").backend_files(VERSION)
    target = prepare_backend_directory(files, tmp_path / "backends", VERSION)
    assert target == tmp_path / "backends" / f"py{VERSION_TEXT}"
    assert sorted(p.name for p in (target / "python").iterdir()) == sorted(files)
    stub = target / "python" / "triton_python_backend_stub"
    assert stub.read_text() == "contents of triton_python_backend_stub"
    assert stub.stat().st_mode & stat.S_IXUSR
    assert [p.name for p in (tmp_path / "backends").iterdir()] == [f"py{VERSION_TEXT}"]


def test_preparation_is_idempotent(tmp_path: Path) -> None:
    files = fake_wheel(tmp_path / "site").backend_files(VERSION)
    target = prepare_backend_directory(files, tmp_path / "backends", VERSION)
    inode = (target / "python").stat().st_ino
    assert prepare_backend_directory(files, tmp_path / "backends", VERSION) == target
    assert (target / "python").stat().st_ino == inode


def test_changed_source_replaces_the_copy(tmp_path: Path) -> None:
    files = fake_wheel(tmp_path / "site").backend_files(VERSION)
    target = prepare_backend_directory(files, tmp_path / "backends", VERSION)
    files["libtriton_python.so"].write_text("a newer build")
    prepare_backend_directory(files, tmp_path / "backends", VERSION)
    assert (target / "python" / "libtriton_python.so").read_text() == "a newer build"
    assert [p.name for p in (tmp_path / "backends").iterdir()] == [f"py{VERSION_TEXT}"]


def test_bundled_server_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = fake_wheel(tmp_path / "site")
    monkeypatch.setattr(install_module, "_pytriton_layout", lambda: layout)
    install = find_tritonserver(
        backends_dir=tmp_path / "backends", search_path=str(tmp_path / "empty")
    )
    assert install.bundled
    assert install.executable == layout.executable
    assert install.library_dirs == (layout.libs_dir,)
    assert install.backend_directory == tmp_path / "backends" / f"py{VERSION_TEXT}"


def test_tritonserver_on_path_wins(tmp_path: Path) -> None:
    on_path = tmp_path / "bin" / "tritonserver"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    install = find_tritonserver(search_path=str(on_path.parent))
    assert install.executable == on_path
    assert install.backend_directory is None
    assert not install.bundled


def test_missing_wheel_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ServerError, match=r"not on PATH and nvidia-pytriton is not installed"):
        find_tritonserver(search_path=os.devnull)
    with pytest.raises(ServerError, match=r"`\./build\.sh setup`"):
        find_tritonserver(search_path=os.devnull)


def test_missing_stub_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = fake_wheel(tmp_path / "site", with_stub=False)
    monkeypatch.setattr(install_module, "_pytriton_layout", lambda: layout)
    stub = layout.backend_files(VERSION)["triton_python_backend_stub"]
    with pytest.raises(ServerError, match=f"incomplete for Python {VERSION_TEXT}: missing {stub}"):
        find_tritonserver(backends_dir=tmp_path / "backends", search_path=os.devnull)
    assert not (tmp_path / "backends").exists()


def test_libpython_in_wheel_libs_is_enough(tmp_path: Path) -> None:
    (tmp_path / "libpython3-419a3a08.13.so.1.0").write_text("")
    check_libpython((3, 13), (tmp_path,))


def test_missing_libpython_says_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_module.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(
        ServerError, match=r"needs libpython3\.11\.so\.1\.0.*`apt-get install libpython3\.11`"
    ):
        check_libpython((3, 11), (tmp_path,))
