"""Where render writes: only into a folder it may replace, and each deploy file into its own
folder (model_repo/ belongs to deploy/cpu.yaml)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from tritonsla.cli import serve_cmd
from tritonsla.cli.main import run
from tritonsla.folders import MARKER, FolderError
from tritonsla.repo.pipeline import render

ROOT = Path(__file__).resolve().parents[3]


def _cli(*argv: str) -> str:
    out = io.StringIO()
    assert run(list(argv), Console(file=out, width=400)) == 0
    return out.getvalue()


def test_render_refuses_a_folder_holding_other_files(project) -> None:
    precious = project.out / "precious" / "file.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("keep me")
    with pytest.raises(FolderError, match=rf"refusing to replace {project.out}: .*--force"):
        render(project.deploy, project.out)
    assert precious.read_text() == "keep me"
    render(project.deploy, project.out, force=True)
    assert not precious.exists()


def test_rendered_repository_is_marked_and_check_stays_green(project) -> None:
    project.out.mkdir()  # empty: may be replaced
    render(project.deploy, project.out)
    assert (project.out / MARKER).read_text() == "tritonsla render deploy/cpu.yaml\n"
    render(project.deploy, project.out)  # its own output
    assert render(project.deploy, project.out, check=True).diff == []


def test_another_deploy_file_does_not_replace_the_repository(project) -> None:
    render(project.deploy, project.out)
    single = project.root / "deploy" / "cpu-single.yaml"
    with pytest.raises(FolderError, match=r"the output of `tritonsla render deploy/cpu\.yaml`"):
        render(single, project.out)
    assert (project.out / "realtime_ensemble").is_dir()


def test_each_deploy_file_renders_into_its_own_folder(project, monkeypatch) -> None:
    monkeypatch.chdir(project.root)
    assert "into model_repo" in _cli("render")
    printed = _cli("render", "--deploy", "deploy/cpu-single.yaml")
    assert "into .cache/repos/cpu-single" in printed
    assert (project.root / ".cache/repos/cpu-single/general_ensemble").is_dir()
    assert (project.out / "realtime_ensemble").is_dir()
    assert not (project.out / "general_ensemble").exists()
    assert "model_repo is up to date" in _cli("render", "--check")
    changed = _cli("render", "--set", "batch.batching.max_queue_delay_us=20000")
    assert "into .cache/repos/cpu" in changed
    assert "model_repo is up to date" in _cli("render", "--check")


def test_committed_repository_is_marked_as_rendered_from_deploy_cpu() -> None:
    marker = ROOT / "model_repo" / MARKER
    assert marker.read_text() == "tritonsla render deploy/cpu.yaml\n"


def test_serving_another_deploy_file_leaves_model_repo_alone(project, monkeypatch) -> None:
    monkeypatch.chdir(project.root)
    _cli("render")
    before = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    started = []

    def start_detached(options, **_):
        started.append(options.model_repository)
        return SimpleNamespace(log_file=project.root / "tritonserver.log")

    monkeypatch.setattr(serve_cmd, "start_detached", start_detached)
    printed = _cli("serve", "--deploy", "deploy/cpu-single.yaml", "--run-dir", "run")
    assert started == [(project.root / ".cache/repos/cpu-single").resolve()]
    assert "repository: .cache/repos/cpu-single" in printed
    assert {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()} == before
