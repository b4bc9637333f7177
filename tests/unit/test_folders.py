"""Folder replacement: a command replaces only a folder that is missing, empty or its own output
(render, demo, assets and engines share `tritonsla.folders`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from tritonsla.assets import DefaultModel, write_default_model
from tritonsla.demo.run import DemoOptions, run_demo
from tritonsla.folders import MARKER, FolderError, check_replaceable, replace_folder

TINY = DefaultModel(n_layer=1, n_head=1, n_embd=8, n_positions=16)


def _staging(root: Path, text: str = "new") -> Path:
    staging = root / ".staging"
    staging.mkdir()
    (staging / "file.txt").write_text(text)
    return staging


def _precious(folder: Path) -> Path:
    precious = folder / "precious" / "file.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("keep me")
    return precious


def test_missing_and_empty_folders_are_replaced_and_marked(tmp_path: Path) -> None:
    target = tmp_path / "out"
    replace_folder(_staging(tmp_path), target, owner="tritonsla test")
    assert (target / MARKER).read_text() == "tritonsla test\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    replace_folder(_staging(tmp_path), empty, owner="tritonsla test")
    assert (empty / "file.txt").read_text() == "new"


def test_own_earlier_output_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    replace_folder(_staging(tmp_path, "old"), target, owner="tritonsla test")
    replace_folder(_staging(tmp_path, "new"), target, owner="tritonsla test")
    assert (target / "file.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_unmarked_folder_is_refused_naming_path_and_flag(tmp_path: Path) -> None:
    target = tmp_path / "out"
    precious = _precious(target)
    staging = _staging(tmp_path)
    with pytest.raises(FolderError, match=rf"refusing to replace {target}: .*--force"):
        replace_folder(staging, target, owner="tritonsla test")
    assert precious.read_text() == "keep me"
    replace_folder(staging, target, owner="tritonsla test", force=True)
    assert not precious.exists() and (target / MARKER).is_file()


def test_another_commands_output_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    replace_folder(_staging(tmp_path), target, owner="tritonsla demo")
    with pytest.raises(FolderError, match="holds the output of `tritonsla demo`"):
        check_replaceable(target, "tritonsla render deploy/cpu.yaml")


def test_a_file_is_not_replaced_by_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("notes")
    with pytest.raises(FolderError, match="it is a file"):
        check_replaceable(target, "tritonsla test")


def test_assets_refuses_an_unmarked_folder(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    precious = _precious(folder)
    with pytest.raises(FolderError, match=rf"{folder}: .*--force"):
        write_default_model(folder, TINY)
    assert precious.read_text() == "keep me"
    assert write_default_model(folder, TINY, force=True)
    assert not write_default_model(folder, TINY)
    assert write_default_model(folder, DefaultModel(n_layer=2, n_head=1, n_embd=8, n_positions=16))


def test_demo_refuses_an_unmarked_out_folder_before_running(tmp_path: Path) -> None:
    out = tmp_path / "report"
    precious = _precious(out)
    options = DemoOptions(out=out, topologies=(), model=None)
    with pytest.raises(FolderError, match=rf"{out}: .*`tritonsla demo`.*--force"):
        run_demo(options, Console(quiet=True))
    assert precious.read_text() == "keep me"
