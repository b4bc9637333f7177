"""A machine that looks like a GPU box to `tritonsla engines`: stand-in TensorRT-LLM tools.

bin/trtllm-build and examples/{models/core/llama/convert_checkpoint.py, quantization/quantize.py}
are copies of standin_tool.py; site/tensorrt_llm answers the version query; a tmp copy of
deploy/h100-llama8b.yaml points at a small model folder and a tmp engines folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tritonsla.cli import engines_cmd

STANDIN = Path(__file__).with_name("standin_tool.py")
FAKE_TRTLLM = """print("[TensorRT-LLM] TensorRT-LLM version: {version}")
__version__ = "{version}"
"""


def run_engines_cli(deploy: Path, *argv: str) -> str:
    """`tritonsla engines --deploy <deploy> *argv` through the subcommand's own parser and
    handler; asserts exit status 0 and returns what it printed."""
    parser = argparse.ArgumentParser(prog="tritonsla")
    engines_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["engines", "--deploy", str(deploy), *argv])
    out = io.StringIO()
    assert args.handler(args, Console(file=out, width=400)) == 0
    return out.getvalue()


class GpuBox:
    """The tmp project plus stand-in tools; `run()` is `tritonsla engines ...`."""

    def __init__(self, project, monkeypatch: pytest.MonkeyPatch) -> None:
        self.project = project
        self.root: Path = project.root
        self.engines = self.root / "engines"
        self.record = self.root / "calls.jsonl"
        self.record.touch()
        self.model = self.root / "models" / "llama"
        self.model.mkdir(parents=True)
        (self.model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
        (self.model / "model.safetensors").write_bytes(b"weights")
        self.bin = self.root / "bin"
        self._tool(self.bin / "trtllm-build")
        self.examples = self.root / "TensorRT-LLM" / "examples"
        self._tool(self.examples / "models/core/llama/convert_checkpoint.py")
        self._tool(self.examples / "quantization/quantize.py")
        self.site = self.root / "site"
        self.set_version("1.2.1")
        self.deploy = project.edit("deploy/h100-llama8b.yaml", self._local)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("PYTHONPATH", str(self.site))
        monkeypatch.setenv("STANDIN_LOG", str(self.record))
        monkeypatch.setenv("TRTLLM_EXAMPLES_DIR", str(self.examples))
        monkeypatch.delenv("TRTLLM_PYTHON", raising=False)
        monkeypatch.delenv("STANDIN_FAIL", raising=False)
        monkeypatch.delenv("STANDIN_SHRINK_BATCH", raising=False)

    @staticmethod
    def _local(data: dict) -> None:
        data["model"].update(checkpoint="../models/llama", tokenizer="../models/llama")
        data["engines_dir"] = "../engines"

    def _tool(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{sys.executable}\n{STANDIN.read_text()}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def set_version(self, version: str) -> None:
        """What `import tensorrt_llm; print(tensorrt_llm.__version__)` answers."""
        package = self.site / "tensorrt_llm"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(FAKE_TRTLLM.format(version=version))

    def calls(self, tool: str | None = None) -> list[list[str]]:
        """Recorded argv (after the program) of every stand-in run, optionally of one tool."""
        lines = self.record.read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        return [e["argv"] for e in entries if tool is None or e["tool"] == tool]

    def run(self, *argv: str) -> str:
        """`tritonsla engines --deploy <tmp deploy> *argv`; returns what it printed."""
        return run_engines_cli(self.deploy, *argv)

    def manifest(self, profile: str) -> dict:
        return json.loads((self.engines / profile / "build_manifest.json").read_text())

    def hidden(self) -> list[str]:
        """Staging or half-moved folders left anywhere under engines/."""
        if not self.engines.exists():
            return []
        return sorted(p.name for p in self.engines.rglob(".*") if p.is_dir())


@pytest.fixture
def box(project, monkeypatch: pytest.MonkeyPatch) -> GpuBox:
    return GpuBox(project, monkeypatch)


@pytest.fixture
def engines_cli():
    """run_engines_cli, for deployments other than the GPU box's."""
    return run_engines_cli
