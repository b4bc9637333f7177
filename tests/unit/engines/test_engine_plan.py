"""Engine build plans of the GPU example: per-profile flags, shared conversions, tp x pp."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonsla.engines.facts import validate_argv
from tritonsla.engines.plan import plan_engines
from tritonsla.engines.steps import Toolchain, script
from tritonsla.errors import EngineBuildError
from tritonsla.profiles.loading import load_deployment

EXAMPLES = Path("/opt/TensorRT-LLM/examples")
TOOLS = Toolchain(
    python="/usr/bin/python3",
    examples_dir=EXAMPLES,
    converter=EXAMPLES / "models/core/llama/convert_checkpoint.py",
    quantizer=EXAMPLES / "quantization/quantize.py",
)


def _flags(args: tuple[str, ...]) -> dict[str, str | bool]:
    found: dict[str, str | bool] = {}
    for index, item in enumerate(args):
        if item.startswith("--"):
            following = args[index + 1] if index + 1 < len(args) else None
            found[item] = True if following is None or following.startswith("--") else following
    return found


def _plans(project, sets=None, profiles=None, deploy="deploy/h100-llama8b.yaml"):
    dep = load_deployment(project.root / deploy, sets)
    return {plan.profile: plan for plan in plan_engines(dep, TOOLS, profiles)}


def test_each_profile_gets_the_flags_it_implies(project):
    plans = _plans(project)
    build = {name: _flags(plan.build.args) for name, plan in plans.items()}
    expected = {
        "realtime": ("4", "1024", "2048", "2048", "disable"),
        "interactive": ("32", "2048", "4096", "4096", "enable"),
        "batch": ("64", "2048", "4096", "8192", "enable"),
    }
    keys = ("--max_batch_size", "--max_input_len", "--max_seq_len", "--max_num_tokens")
    for name, values in expected.items():
        assert tuple(build[name][k] for k in keys) == values[:4]
        assert build[name]["--multiple_profiles"] == values[4]
        assert build[name]["--use_paged_context_fmha"] == "enable"
        assert build[name]["--kv_cache_type"] == "paged"
        assert build[name]["--max_beam_width"] == "1"
        assert build[name]["--tokens_per_block"] == "32"
        assert build[name]["--gemm_plugin"] == "auto"
        assert build[name]["--gpt_attention_plugin"] == "auto"
        assert build[name]["--context_fmha"] == build[name]["--remove_input_padding"] == "enable"
        assert build[name]["--workers"] == "1"
        assert plans[name].build.program == ("trtllm-build",)
        assert plans[name].folder == Path("/engines") / name


def test_realtime_is_int8_weight_only_and_the_fp16_profiles_share_a_conversion(project):
    plans = _plans(project)
    realtime = _flags(plans["realtime"].checkpoint.step.args)
    assert realtime["--use_weight_only"] is True
    assert realtime["--weight_only_precision"] == "int8"
    assert realtime["--dtype"] == "float16"
    fp16 = _flags(plans["interactive"].checkpoint.step.args)
    assert "--use_weight_only" not in fp16
    assert fp16["--dtype"] == "float16"
    assert plans["interactive"].checkpoint == plans["batch"].checkpoint
    assert plans["realtime"].checkpoint.folder != plans["batch"].checkpoint.folder
    assert plans["batch"].checkpoint.folder == Path("/engines/_checkpoints/float16-tp1-pp1")
    assert (
        _flags(plans["batch"].build.args)["--checkpoint_dir"]
        == "/engines/_checkpoints/float16-tp1-pp1"
    )
    step = plans["realtime"].checkpoint.step
    assert step.program == ("/usr/bin/python3", str(TOOLS.converter))
    assert step.cwd == TOOLS.converter.parent
    assert realtime["--model_dir"] == "/models/Llama-3.1-8B-Instruct"
    assert script(list(plans.values())).count("convert_checkpoint.py --model_dir") == 2


def test_outputs_go_to_hidden_staging_folders_named_by_the_inputs(project):
    plans = _plans(project)
    staging = plans["batch"].build.output
    assert staging.parent == Path("/engines")
    assert staging.name.startswith(".batch.building-")
    assert _flags(plans["batch"].build.args)["--output_dir"] == str(staging)
    assert _plans(project)["batch"].build.output == staging
    changed = _plans(project, ["batch.engine.max_num_tokens=16384"])["batch"].build.output
    assert changed != staging
    assert plans["batch"].checkpoint.step.output.name.startswith(".float16-tp1-pp1.building-")


@pytest.mark.parametrize(("tp", "pp", "gpus", "workers"), [(2, 1, 2, "2"), (2, 2, 8, "4")])
def test_tensor_and_pipeline_parallel_reach_conversion_and_workers(project, tp, pp, gpus, workers):
    project.edit(
        "deploy/h100-llama8b.yaml",
        lambda d: d["hardware"].update(gpus=gpus, tensor_parallel=tp, pipeline_parallel=pp),
    )
    for plan in _plans(project).values():
        conversion = _flags(plan.checkpoint.step.args)
        assert (conversion["--tp_size"], conversion["--pp_size"]) == (str(tp), str(pp))
        assert plan.checkpoint.name.endswith(f"-tp{tp}-pp{pp}")
        build = _flags(plan.build.args)
        assert build["--workers"] == workers
        assert "--tp_size" not in build, "parallelism is fixed at conversion, not trtllm-build"


def test_fp8_is_quantized_with_modelopt_and_built_with_the_fp8_gemm_plugin(project):
    plan = _plans(project, ["realtime.engine.precision=fp8"], ["realtime"])["realtime"]
    step = plan.checkpoint.step
    assert (step.name, step.tool) == ("quantize", "quantize.py")
    assert step.program[-1] == str(TOOLS.quantizer)
    quantize = _flags(step.args)
    assert (quantize["--qformat"], quantize["--kv_cache_dtype"]) == ("fp8", "fp8")
    assert _flags(plan.build.args)["--gemm_plugin"] == "fp8"


def test_paged_context_fmha_follows_chunking_reuse_and_the_knob(project):
    off = [
        "batch.engine.enable_chunked_context=false",
        "batch.engine.paged_context_fmha=false",
        "batch.engine.max_num_tokens=8192",
    ]
    plan = _plans(project, off, ["batch"])["batch"]
    assert _flags(plan.build.args)["--use_paged_context_fmha"] == "disable"
    assert plan.knobs["paged_context_fmha"] is False


def test_every_planned_argv_fits_the_pinned_release(project):
    variants = [None, ["realtime.engine.precision=fp8", "batch.engine.precision=int4"]]
    for sets in variants:
        for plan in _plans(project, sets).values():
            for step in plan.steps:
                validate_argv(step.tool, step.args)


def test_profile_subset_and_unknown_profile(project):
    assert list(_plans(project, profiles=["batch"])) == ["batch"]
    with pytest.raises(EngineBuildError, match=r"unknown profile\(s\) fast. Available: realtime"):
        _plans(project, profiles=["fast"])


def test_cpu_plans_and_unquantized_llmapi_plans_have_no_steps(project):
    cpu = _plans(project, deploy="deploy/cpu.yaml")
    assert all(plan.steps == () and plan.kind == "cpu" for plan in cpu.values())
    assert cpu["batch"].folder == project.root / "assets" / "tiny-gpt2"
    project.edit("deploy/h100-llama8b.yaml", lambda d: d.update(engine_kind="llmapi"))
    llmapi = _plans(project)
    assert [step.name for step in llmapi["realtime"].steps] == ["quantize"], "int8: SmoothQuant"
    assert llmapi["interactive"].steps == () and llmapi["batch"].steps == ()
    assert "batch_tensorrt_llm/1/model.yaml" in llmapi["batch"].note


def test_step_shell_line_is_quoted_for_display(project):
    project.edit(
        "deploy/h100-llama8b.yaml",
        lambda d: d["model"].update(checkpoint="/models/my model", tokenizer="/models/my model"),
    )
    step = _plans(project)["batch"].checkpoint.step
    assert "--model_dir '/models/my model'" in step.shell()
    assert step.shell().startswith(f"cd {TOOLS.converter.parent} && PYTHONUNBUFFERED=1 ")
    assert step.argv[step.argv.index("--model_dir") + 1] == "/models/my model"
