"""tools/gpu_acceptance.sh --dry-run: every step printed, the tritonsla commands valid, the
published figures beside them; nothing built, served or measured."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tritonsla.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gpu_acceptance.sh"


def _dry_run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--out", str(tmp_path / "out"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _commands(output: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in output.splitlines() if line.startswith("$ ")]


def test_dry_run_prints_every_step_for_both_paths_and_runs_nothing(tmp_path):
    done = _dry_run(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    steps = [line[3:] for line in out.splitlines() if line.startswith("== ")]
    assert steps[0] == "environment: driver, GPU memory, TensorRT-LLM"
    for kind in ("trt-engine", "llmapi"):
        mine = [s.split(": ", 1)[1] for s in steps if s.startswith(f"{kind}: ")]
        assert [s.split(" ")[0] for s in mine] == [
            "build",
            "serve",
            "SLO",
            "throughput,",
            "realtime",
            "stop",
            "figures",
        ]
    commands = _commands(out)
    assert commands[0][0] == "nvidia-smi" and "memory.total" in commands[0][1]
    assert commands[1][1:3] == ["-c", "import tensorrt_llm; print(tensorrt_llm.__version__)"]
    assert "trtllm-build --checkpoint_dir" in out, "the trt-engine plan is printed"
    assert "modelopt_quantize.py --model_dir" in out, "the llmapi plan is printed"
    assert out.count("published 28312 tokens/s") == 2 and out.count("published 9305") == 2
    assert "roofline >= 2.4 ms (FP8)" in out
    assert not (tmp_path / "out").exists()


def test_every_tritonsla_command_of_the_run_parses(tmp_path):
    commands = [c for c in _commands(_dry_run(tmp_path).stdout) if c[0].endswith("tritonsla")]
    used = {c[1] for c in commands}
    assert used == {"engines", "serve", "bench", "stop"}
    parser = build_parser()
    for command in commands:
        parser.parse_args(command[1:])  # exits (fails the test) on an unknown flag
    bench = [c for c in commands if c[1] == "bench"]
    lines = [" ".join(c) for c in bench]
    assert sum("--input-tokens 128 --output-tokens 128" in line for line in lines) == 2
    assert sum("--input-tokens 2048 --output-tokens 2048" in line for line in lines) == 2
    assert sum("--mix realtime=1 --concurrency 1" in line for line in lines) == 2
    assert sum(line.endswith("--capacity") for line in lines) == 2


def test_path_option_and_bad_options(tmp_path):
    only = _dry_run(tmp_path, "--path", "llmapi")
    assert only.returncode == 0
    assert "h100-llama8b-llmapi.yaml" in only.stdout and "trt-engine:" not in only.stdout
    for argv in (("--bogus",), ("--path", "tensorrt")):
        done = _dry_run(tmp_path, *argv)
        assert done.returncode == 2 and "--path auto|trt-engine|llmapi" in done.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_describes_the_run(flag):
    done = subprocess.run(["bash", str(SCRIPT), flag], capture_output=True, text=True)
    assert done.returncode == 0 and "28,312" in done.stdout and "--dry-run" in done.stdout
