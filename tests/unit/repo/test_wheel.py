"""The package renders from a wheel installed in a fresh venv, not only from the checkout."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from tritonsla.repo.pipeline import render

ROOT = Path(__file__).resolve().parents[3]


def run(argv: list[str | Path], cwd: Path) -> str:
    """Run `argv` without PYTHONPATH (which could reach the checkout); its stdout."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the sources (a build writes build/ beside its input)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "client", source / "client", ignore=skip)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", source, "-w", dist], tmp_path)
    (wheel,) = dist.glob("triton_sla-*.whl")
    return wheel


def install_in_fresh_venv(wheel: Path, venv: Path) -> None:
    """`wheel` alone in a new venv; the dependencies come from this interpreter's
    site-packages through a .pth file. The editable install's own .pth there is not read (Python
    reads .pth files only in site directories, not in folders a .pth adds), so the checkout
    stays out of reach."""
    run([sys.executable, "-m", "venv", "--without-pip", venv], venv.parent)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    run([*pip, "install", "-q", "--no-deps", wheel], venv.parent)
    (venv_site,) = (venv / "lib").glob("python*/site-packages")
    (venv_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_wheel_in_a_fresh_venv_renders_what_the_checkout_renders(project, tmp_path):
    venv = tmp_path / "venv"
    install_in_fresh_venv(build_wheel(tmp_path), venv)
    where = run(
        [venv / "bin" / "python", "-c", "import tritonsla; print(tritonsla.__file__)"], tmp_path
    )
    assert Path(where.strip()).is_relative_to(venv), where

    out = project.root / "from_wheel"
    cli = venv / "bin" / "tritonsla"
    printed = run([cli, "render", "--deploy", project.deploy, "--out", out], project.root)
    assert "Rendered 15 models" in printed
    expected = project.root / "from_checkout"
    render(project.deploy, expected)
    assert files(out) == files(expected)
    assert "realtime_tensorrt_llm/1/model.py" in files(out)
