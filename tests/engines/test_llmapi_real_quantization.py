"""A real ModelOpt quantization of the tiny GPT-2 on this CPU, through `tritonsla engines`.

Needs the quantization tools venv (`./build.sh quant-tools`: torch, transformers,
nvidia-modelopt); without it the module is skipped with that reason. The llmapi twin's realtime
profile is set to int8 (ModelOpt INT8 SmoothQuant); the exported Hugging Face folder is checked,
and the quantized model's logits are compared with the unquantized model's on the calibration
prompts (quantization_report.json, written by the quantization program).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from safetensors import safe_open

from tritonsla.assets import write_default_model
from tritonsla.engines.modelopt_quantize import REPORT
from tritonsla.engines.tools import MODELOPT_PYTHON_ENV, QUANT_VENV_PYTHON

PYTHON = os.environ.get(MODELOPT_PYTHON_ENV) or str(QUANT_VENV_PYTHON)
pytestmark = pytest.mark.skipif(
    not Path(PYTHON).is_file(),
    reason=f"no quantization tools at {PYTHON}: run ./build.sh quant-tools",
)
TWIN = "deploy/h100-llama8b-llmapi.yaml"


@pytest.fixture
def quantized(project, engines_cli, monkeypatch) -> tuple[Path, Path, str]:
    model = project.root / "models" / "tiny-gpt2"
    write_default_model(model)

    def local(data: dict) -> None:
        data["model"].update(checkpoint="../models/tiny-gpt2", tokenizer="../models/tiny-gpt2")
        data["engines_dir"] = "../engines"

    deploy = project.edit(TWIN, local)
    monkeypatch.setenv(MODELOPT_PYTHON_ENV, PYTHON)
    argv = ("--profile", "realtime", "--set", "realtime.engine.precision=int8")
    output = engines_cli(deploy, *argv)
    folder = project.root / "engines" / "_checkpoints" / "hf-int8_sq"
    return model, folder, output + engines_cli(deploy, *argv)


def test_tiny_gpt2_is_quantized_for_real_and_stays_close_to_the_original(quantized):
    model, folder, output = quantized
    assert "quantized" in output and "up to date" in output, "the second run skips it"
    config = json.loads((folder / "config.json").read_text())
    assert config["quantization_config"]["quant_algo"] == "W8A8_SQ_PER_CHANNEL"
    hf_quant = json.loads((folder / "hf_quant_config.json").read_text())
    assert hf_quant["producer"]["name"] == "modelopt"
    with safe_open(str(folder / "model.safetensors"), framework="np") as weights:
        names = set(weights.keys())
        assert weights.get_tensor("transformer.h.0.mlp.c_fc.weight").dtype.name == "int8"
    assert {
        "transformer.h.0.mlp.c_fc.weight_scale",
        "transformer.h.0.mlp.c_fc.input_scale",
    } <= names
    assert (folder / "tokenizer.json").is_file()
    report = json.loads((folder / REPORT).read_text())
    assert report["device"] == "cpu" and report["tokens"] > 0
    assert 0.0 < report["relative_logit_error"] < 0.5, report
    assert report["top1_agreement"] >= 0.5, report
    manifest = json.loads((folder / "build_manifest.json").read_text())
    assert manifest["tensorrt_llm"].startswith("modelopt ")
    assert manifest["model"]["folder"] == str(model)
