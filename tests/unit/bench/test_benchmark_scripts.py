"""Smoke test of benchmarks/: every script imports and answers --help, none imports another by
its bare name, and benchmarks/README.md has a section for each (and only for them).

The scripts run as users run them (`python benchmarks/<script>.py`, from the repository root),
all at once, so that a broken import fails here in seconds rather than in the next benchmark.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py"))
HELP_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """`--help` of every script, run in parallel."""
    running = {
        name: subprocess.Popen(
            [sys.executable, f"benchmarks/{name}", "--help"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SCRIPTS
    }
    done = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=HELP_TIMEOUT_S)
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


def test_the_folder_holds_the_scripts() -> None:
    assert "capacity.py" in SCRIPTS
    assert len(SCRIPTS) >= 7


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_runs(helps: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    result = helps[name]
    assert result.returncode == 0, f"benchmarks/{name} --help failed:\n{result.stderr}"
    assert result.stdout.startswith(f"usage: {name}")
    # the docstring follows the options: how to run the script, from the repository root
    assert f".venv/bin/python benchmarks/{name}" in result.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_script_imports_another(name: str) -> None:
    siblings = {Path(script).stem for script in SCRIPTS}
    tree = ast.parse((BENCHMARKS / name).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & siblings, "shared code belongs in tritonsla.bench.fixtures"


def test_readme_has_a_section_per_script() -> None:
    sections = re.findall(r"^## `([\w.]+\.py)`$", (BENCHMARKS / "README.md").read_text(), re.M)
    assert sorted(sections) == SCRIPTS
