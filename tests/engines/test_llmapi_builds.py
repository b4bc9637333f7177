"""`tritonsla engines` for llmapi deployments: ModelOpt checkpoints per precision, staged,
manifest-tracked and incremental like trt-engine builds (stand-in quantization Python)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from standin_tool import parse

from tritonsla.engines.llmapi_plan import check_quantize_args
from tritonsla.errors import EngineBuildError

STANDIN = Path(__file__).with_name("standin_modelopt.py")
TWIN = "deploy/h100-llama8b-llmapi.yaml"


class QuantBox:
    """The tmp project with the llmapi twin pointed at a small model and a stand-in ModelOpt."""

    def __init__(self, project, monkeypatch: pytest.MonkeyPatch, engines_cli) -> None:
        self.project = project
        self.root: Path = project.root
        self.cli = engines_cli
        self.engines = self.root / "engines"
        self.record = self.root / "calls.jsonl"
        self.record.touch()
        self.model = self.root / "models" / "llama"
        self.model.mkdir(parents=True)
        (self.model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
        (self.model / "model.safetensors").write_bytes(b"weights")
        python = self.root / "bin" / "modelopt-python"
        python.parent.mkdir()
        python.write_text(f"#!{sys.executable}\n{STANDIN.read_text()}")
        python.chmod(python.stat().st_mode | stat.S_IXUSR)
        self.python = python
        self.deploy = project.edit(TWIN, self._local)
        monkeypatch.setenv("MODELOPT_PYTHON", str(python))
        monkeypatch.setenv("STANDIN_LOG", str(self.record))
        monkeypatch.delenv("STANDIN_FAIL", raising=False)

    @staticmethod
    def _local(data: dict) -> None:
        data["model"].update(checkpoint="../models/llama", tokenizer="../models/llama")
        data["engines_dir"] = "../engines"

    def run(self, *argv: str) -> str:
        return self.cli(self.deploy, *argv)

    def calls(self) -> list[dict]:
        lines = self.record.read_text().splitlines()
        return [parse(json.loads(line)["argv"]) for line in lines]

    def checkpoint(self, qformat: str) -> Path:
        return self.engines / "_checkpoints" / f"hf-{qformat}"

    def hidden(self) -> list[str]:
        if not self.engines.exists():
            return []
        return sorted(p.name for p in self.engines.rglob(".*") if p.is_dir())


@pytest.fixture
def qbox(project, monkeypatch, engines_cli) -> QuantBox:
    return QuantBox(project, monkeypatch, engines_cli)


def test_fp8_profile_gets_one_modelopt_checkpoint_the_others_load_the_model(qbox):
    output = qbox.run()
    [call] = qbox.calls()
    assert (call["qformat"], call["kv_cache_qformat"]) == ("fp8", "fp8")
    assert (call["device"], call["dtype"], call["model_dir"]) == ("auto", "auto", str(qbox.model))
    folder = qbox.checkpoint("fp8")
    assert json.loads((folder / "hf_quant_config.json").read_text())["quantization"] == {
        "quant_algo": "FP8",
        "kv_cache_quant_algo": "FP8",
    }
    manifest = json.loads((folder / "build_manifest.json").read_text())
    assert manifest["tensorrt_llm"] == "modelopt 0.47.0"
    assert manifest["commands"][0][2:] == [*json.loads(qbox.record.read_text())["argv"]]
    assert output.count("quantized") == 1 and output.count("nothing to build") == 2
    assert (qbox.engines / "_logs" / "realtime.log").read_text().startswith("$ cd ")
    assert qbox.hidden() == []


def test_second_run_quantizes_nothing_and_changed_weights_quantize_again(qbox):
    qbox.run()
    output = qbox.run()
    assert len(qbox.calls()) == 1 and "up to date" in output
    (qbox.model / "model.safetensors").write_bytes(b"new weights, new size")
    qbox.run()
    assert len(qbox.calls()) == 2


def test_profiles_of_one_precision_share_one_quantization(qbox):
    output = qbox.run("--set", "batch.engine.precision=fp8")
    assert len(qbox.calls()) == 1
    assert output.count("up to date") == 1, "batch reuses the checkpoint realtime made"


@pytest.mark.parametrize(
    ("precision", "qformat", "kv"),
    [("int8", "int8_sq", "none"), ("int4", "int4_awq", "none"), ("fp8", "fp8", "fp8")],
)
def test_precision_picks_the_modelopt_format(qbox, precision, qformat, kv):
    qbox.run("--set", f"batch.engine.precision={precision}", "--profile", "batch")
    [call] = qbox.calls()
    assert (call["qformat"], call["kv_cache_qformat"]) == (qformat, kv)
    assert (qbox.checkpoint(qformat) / "config.json").is_file()


def test_failed_quantization_keeps_the_previous_checkpoint(qbox, monkeypatch):
    qbox.run()
    before = (qbox.checkpoint("fp8") / "build_manifest.json").read_text()
    monkeypatch.setenv("STANDIN_FAIL", "modelopt:hf-fp8")
    with pytest.raises(EngineBuildError) as error:
        qbox.run("--force")
    message = str(error.value)
    assert "profile `realtime`: step `quantize` failed with exit status 1" in message
    assert "CUDA out of memory" in message and str(qbox.engines / "_logs") in message
    assert (qbox.checkpoint("fp8") / "build_manifest.json").read_text() == before
    assert qbox.hidden() == []


def test_dry_run_prints_the_quantize_command_and_builds_nothing(qbox, monkeypatch):
    monkeypatch.setenv("MODELOPT_PYTHON", "/nowhere/python")
    output = qbox.run("--dry-run")
    assert "# llmapi build plan" in output
    assert "/nowhere/python " in output and "modelopt_quantize.py --model_dir" in output
    assert "--qformat fp8 --kv_cache_qformat fp8" in output
    assert f"then move {qbox.engines}/_checkpoints/.hf-fp8.building-" in output
    assert qbox.calls() == [] and not qbox.engines.exists()


def test_missing_quantization_tools_are_named_with_how_to_get_them(qbox, monkeypatch):
    monkeypatch.setenv("MODELOPT_PYTHON", str(qbox.root / "no-python"))
    with pytest.raises(EngineBuildError) as error:
        qbox.run()
    message = str(error.value)
    assert "cannot import torch, transformers and modelopt" in message
    assert "./build.sh quant-tools" in message and "MODELOPT_PYTHON" in message
    assert not qbox.engines.exists()


def test_out_repo_points_the_fp8_profile_at_its_checkpoint(qbox):
    out = qbox.root / "model_repo"
    qbox.run("--out-repo", str(out))
    realtime = (out / "realtime_tensorrt_llm" / "1" / "model.yaml").read_text()
    batch = (out / "batch_tensorrt_llm" / "1" / "model.yaml").read_text()
    assert "model: engines/_checkpoints/hf-fp8" in realtime
    assert "model: models/llama" in batch


def test_planned_quantize_arguments_are_checked_by_the_program_parser():
    check_quantize_args(("--model_dir", "/m", "--output_dir", "/o", "--qformat", "int8_sq"))
    with pytest.raises(EngineBuildError, match=r"modelopt_quantize.py command is refused"):
        check_quantize_args(("--model_dir", "/m", "--output_dir", "/o", "--qformat", "nvfp4"))
