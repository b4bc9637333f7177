"""`tritonsla engines` with stand-in TensorRT-LLM tools: flags, incrementality, failures."""

from __future__ import annotations

import json
import os

import pytest
from standin_tool import parse

from tritonsla.errors import ConfigErrors, EngineBuildError
from tritonsla.folders import FolderError

PROFILES = ("realtime", "interactive", "batch")


def _builds(box) -> dict[str, dict]:
    """trtllm-build flags by profile (from the staging folder name in --output_dir)."""
    found = {}
    for argv in box.calls("trtllm-build"):
        flags = parse(argv)
        profile = os.path.basename(flags["output_dir"]).split(".")[1]
        found[profile] = flags
    return found


def test_builds_each_profile_with_its_flags(box):
    output = box.run()
    builds = _builds(box)
    assert set(builds) == set(PROFILES)
    sizes = {
        p: (b["max_batch_size"], b["max_input_len"], b["max_seq_len"]) for p, b in builds.items()
    }
    assert sizes == {
        "realtime": ("4", "1024", "2048"),
        "interactive": ("32", "2048", "4096"),
        "batch": ("64", "2048", "4096"),
    }
    assert {p: b["max_num_tokens"] for p, b in builds.items()} == {
        "realtime": "2048",
        "interactive": "4096",
        "batch": "8192",
    }
    for flags in builds.values():
        assert flags["use_paged_context_fmha"] == "enable"
        assert flags["kv_cache_type"] == "paged"
        assert flags["gemm_plugin"] == "auto"
        assert flags["workers"] == "1"
    assert builds["realtime"]["multiple_profiles"] == "disable"
    assert builds["batch"]["multiple_profiles"] == "enable"
    assert builds["realtime"]["checkpoint_dir"].endswith("_checkpoints/int8wo-float16-tp1-pp1")
    assert builds["batch"]["checkpoint_dir"] == builds["interactive"]["checkpoint_dir"]

    conversions = [parse(argv) for argv in box.calls("convert_checkpoint.py")]
    assert len(conversions) == 2, "interactive and batch share one fp16 conversion"
    weight_only = [c for c in conversions if c.get("use_weight_only")]
    assert [c["weight_only_precision"] for c in weight_only] == ["int8"]
    assert all(c["model_dir"] == str(box.model) for c in conversions)

    for profile in PROFILES:
        folder = box.engines / profile
        assert {"config.json", "rank0.engine", "build_manifest.json"} <= {
            p.name for p in folder.iterdir()
        }
        manifest = box.manifest(profile)
        assert manifest["tensorrt_llm"] == "1.2.1"
        assert manifest["commands"][-1][1:] == box.calls("trtllm-build")[PROFILES.index(profile)]
    assert box.hidden() == []
    assert (box.engines / "_logs" / "batch.log").read_text().startswith("$ cd ")
    assert output.count("built") == 3


def test_second_run_rebuilds_nothing(box):
    box.run()
    calls = box.calls()
    output = box.run()
    assert box.calls() == calls
    assert output.count("up to date") == 3


def test_changing_one_knob_rebuilds_only_that_profile(box):
    box.run()
    before = {p: box.manifest(p) for p in PROFILES}
    seen = len(box.calls())
    box.run("--set", "batch.engine.max_num_tokens=16384")
    new = box.calls()[seen:]
    assert len(new) == 1, "only batch's trtllm-build; its fp16 checkpoint is up to date"
    assert parse(new[0])["max_num_tokens"] == "16384"
    assert box.manifest("batch")["knobs"]["max_num_tokens"] == 16384
    assert box.manifest("realtime") == before["realtime"]
    assert box.manifest("interactive") == before["interactive"]


def test_changed_model_weights_rebuild_everything(box):
    box.run()
    seen = len(box.calls())
    (box.model / "model.safetensors").write_bytes(b"new weights, new size")
    box.run()
    assert len(box.calls()) - seen == 5, "two conversions and three builds"


def test_force_rebuilds_up_to_date_engines(box):
    box.run()
    seen = len(box.calls())
    box.run("--force", "--profile", "realtime")
    assert len(box.calls()) - seen == 2


def test_failing_build_stops_names_profile_and_step_and_keeps_old_engine(box, monkeypatch):
    box.run()
    old_config = (box.engines / "batch" / "config.json").read_text()
    old_manifest = box.manifest("batch")
    monkeypatch.setenv("STANDIN_FAIL", "trtllm-build:.batch.")
    with pytest.raises(EngineBuildError) as error:
        box.run("--set", "batch.engine.max_num_tokens=16384")
    message = str(error.value)
    assert "profile `batch`: step `build` failed with exit status 1" in message
    assert str(box.engines / "_logs" / "batch.log") in message
    assert "CUDA out of memory" in message
    assert (box.engines / "batch" / "config.json").read_text() == old_config
    assert box.manifest("batch") == old_manifest
    assert box.hidden() == []


def test_engine_folder_it_did_not_build_is_refused_before_building(box):
    hand_built = box.engines / "batch" / "notes.txt"
    hand_built.parent.mkdir(parents=True)
    hand_built.write_text("built by hand")
    with pytest.raises(
        FolderError, match=rf"refusing to replace {box.engines / 'batch'}: .*--force"
    ):
        box.run("--profile", "batch")
    assert hand_built.read_text() == "built by hand"
    assert box.calls("trtllm-build") == []
    box.run("--profile", "batch", "--force")
    assert not hand_built.exists() and box.manifest("batch")


def test_staging_left_by_a_crashed_run_is_cleared(box):
    crashed = box.engines / ".batch.building-0badc0de"
    crashed.mkdir(parents=True)
    (crashed / "config.json").write_text("{}")
    box.run("--profile", "batch")
    assert box.hidden() == []


def test_failing_conversion_stops_before_any_engine(box, monkeypatch):
    monkeypatch.setenv("STANDIN_FAIL", "convert_checkpoint.py:int8wo")
    with pytest.raises(EngineBuildError, match=r"profile `realtime`: step `convert` failed"):
        box.run()
    assert box.calls("trtllm-build") == []
    assert not any((box.engines / p).exists() for p in PROFILES)
    assert not (box.engines / "_checkpoints" / "int8wo-float16-tp1-pp1").exists()
    assert box.hidden() == []


def test_half_built_engine_never_looks_complete(box, monkeypatch):
    monkeypatch.setenv("STANDIN_FAIL", "trtllm-build:.interactive.")
    with pytest.raises(EngineBuildError, match="profile `interactive`: step `build`"):
        box.run()
    assert (box.engines / "realtime" / "build_manifest.json").is_file()
    assert not (box.engines / "interactive").exists()
    assert not (box.engines / "batch").exists(), "the build stops at the first failure"
    assert box.hidden() == []


def test_engine_config_is_checked_against_the_profile(box, monkeypatch):
    monkeypatch.setenv("STANDIN_SHRINK_BATCH", "1")
    with pytest.raises(ConfigErrors, match=r"batching.max_batch_size.*exceeds the engine"):
        box.run("--profile", "interactive")
    assert not (box.engines / "interactive").exists()
    assert box.hidden() == []


def test_tensor_parallel_reaches_conversion_and_workers(box):
    box.project.edit(
        "deploy/h100-llama8b.yaml",
        lambda d: d["hardware"].update(gpus=4, tensor_parallel=2, pipeline_parallel=2),
    )
    box.run("--profile", "batch")
    conversion = parse(box.calls("convert_checkpoint.py")[0])
    assert (conversion["tp_size"], conversion["pp_size"]) == ("2", "2")
    build = parse(box.calls("trtllm-build")[0])
    assert build["workers"] == "4"
    assert build["checkpoint_dir"].endswith("float16-tp2-pp2")
    ranks = sorted(p.name for p in (box.engines / "batch").glob("rank*.engine"))
    assert ranks == [f"rank{i}.engine" for i in range(4)]


def test_fp8_profile_is_quantized_once_with_fp8_gemm(box):
    box.run("--set", "realtime.engine.precision=fp8", "--profile", "realtime")
    quantize = parse(box.calls("quantize.py")[0])
    assert (quantize["qformat"], quantize["kv_cache_dtype"]) == ("fp8", "fp8")
    assert box.calls("convert_checkpoint.py") == []
    assert parse(box.calls("trtllm-build")[0])["gemm_plugin"] == "fp8"


def test_dry_run_prints_exact_commands_and_builds_nothing(box, monkeypatch):
    monkeypatch.setenv("PATH", str(box.root / "empty"))
    output = box.run("--dry-run")
    assert "trtllm-build --checkpoint_dir" in output
    assert f"{box.examples}/models/core/llama/convert_checkpoint.py --model_dir" in output
    assert output.count("trtllm-build --checkpoint_dir") == 3
    assert "shared, converted above" in output
    assert box.calls() == []
    assert not box.engines.exists()


def test_missing_gpu_tools_are_named_with_how_to_get_them(box, monkeypatch):
    monkeypatch.setenv("PATH", str(box.root / "empty"))
    monkeypatch.delenv("PYTHONPATH")
    monkeypatch.delenv("TRTLLM_EXAMPLES_DIR")
    with pytest.raises(EngineBuildError) as error:
        box.run()
    message = str(error.value)
    assert "`trtllm-build` is not on PATH" in message
    assert "cannot import tensorrt_llm" in message
    assert (
        "no TensorRT-LLM examples folder given (--examples-dir or TRTLLM_EXAMPLES_DIR)" in message
    )
    assert "pip install 'triton-sla[gpu]'" in message
    assert "nvcr.io/nvidia/tritonserver:<yy.mm>-trtllm-python-py3" in message
    assert not box.engines.exists()


def test_examples_dir_option_and_missing_script(box, monkeypatch):
    monkeypatch.delenv("TRTLLM_EXAMPLES_DIR")
    with pytest.raises(EngineBuildError, match=r"convert_checkpoint.py not found at .*models/core"):
        box.run("--examples-dir", str(box.root))
    box.run("--examples-dir", str(box.examples), "--profile", "batch")
    assert (box.engines / "batch" / "config.json").is_file()


def test_other_tensorrt_llm_release_is_refused(box):
    box.set_version("1.3.0")
    with pytest.raises(EngineBuildError, match=r"tensorrt_llm 1.3.0 is installed.*1.2.1"):
        box.run()


def test_out_repo_renders_against_the_built_engines(box):
    out = box.root / "model_repo"
    output = box.run("--out-repo", str(out))
    assert "Rendered 15 models against the engines" in output
    config = (out / "batch_tensorrt_llm" / "config.pbtxt").read_text()
    assert "engines/batch" in config


def test_cpu_deployment_checks_its_checkpoint(project, engines_cli):
    with pytest.raises(EngineBuildError, match=r"tritonsla assets --out .*tiny-gpt2"):
        engines_cli(project.deploy)
    (project.root / "assets" / "tiny-gpt2" / "config.json").write_text(json.dumps({}))
    assert engines_cli(project.deploy).count("ready") == 3


def test_unquantized_llmapi_deployment_has_no_compile_step(project, engines_cli):
    def llmapi_fp16(d: dict) -> None:
        d.update(engine_kind="llmapi")
        d["overrides"]["realtime"]["engine"] = {"precision": "fp16"}

    deploy = project.edit("deploy/h100-llama8b.yaml", llmapi_fp16)
    output = engines_cli(deploy)
    assert output.count("nothing to build") == 3
    assert "batch_tensorrt_llm/1/model.yaml" in output
