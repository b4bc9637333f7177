"""validate_argv: planned flags must exist, with accepted values, in TensorRT-LLM 1.2.1."""

from __future__ import annotations

import pytest

from tritonsla.engines.facts import CONVERTER_DIRS, CONVERTER_LOCATIONS, RELEASE, validate_argv
from tritonsla.errors import EngineBuildError


def test_release_is_the_pinned_one():
    assert RELEASE == "1.2.1"


def test_accepts_known_flags_switches_and_values():
    build = ["--checkpoint_dir", "/c", "--max_batch_size", "8", "--use_paged_context_fmha"]
    build += ["enable", "--gemm_plugin", "fp8", "--kv_cache_type", "paged", "--strip_plan"]
    validate_argv("trtllm-build", [*build, "--workers", "2"])
    validate_argv(
        "convert_checkpoint.py:llama",
        ["--model_dir", "/m", "--use_weight_only", "--weight_only_precision", "int4_awq"],
    )
    validate_argv("quantize.py", ["--qformat", "fp8", "--kv_cache_dtype", "fp8", "--tp_size", "2"])


@pytest.mark.parametrize(
    ("tool", "argv", "problem"),
    [
        ("trtllm-build", ["--use_paged_kv_fmha", "enable"], "`--use_paged_kv_fmha` is not a"),
        ("trtllm-build", ["--tp_size", "2"], "`--tp_size` is not a trtllm-build flag"),
        (
            "trtllm-build",
            ["--use_paged_context_fmha", "on"],
            "`--use_paged_context_fmha on`: value not accepted. Available: enable, disable",
        ),
        ("trtllm-build", ["--gemm_plugin", "int8"], "Available: auto, float16"),
        ("trtllm-build", ["--max_batch_size", "many"], "expected an integer"),
        ("trtllm-build", ["--output_dir", "--workers", "1"], "`--output_dir` needs a value"),
        ("trtllm-build", ["--paged_kv_cache", "enable"], "deprecated in TensorRT-LLM 1.2.1"),
        ("trtllm-build", ["--workers", "1", "--workers", "2"], "`--workers` is given twice"),
        ("convert_checkpoint.py:gpt", ["--weight_only_precision", "int4_awq"], "int8, int4"),
        ("convert_checkpoint.py:gptj", ["--fp8_kv_cache"], "not a convert_checkpoint.py:gptj"),
        ("quantize.py", ["--qformat", "fp16"], "Available: nvfp4, fp8"),
    ],
)
def test_rejects_what_the_release_does_not_have(tool, argv, problem):
    with pytest.raises(EngineBuildError, match=r"does not fit TensorRT-LLM 1\.2\.1") as error:
        validate_argv(tool, argv)
    assert problem in str(error.value)


def test_lists_every_problem_at_once():
    with pytest.raises(EngineBuildError) as error:
        validate_argv("trtllm-build", ["--bogus", "--max_seq_len", "x", "--context_fmha", "yes"])
    assert str(error.value).count("\n- ") == 3


def test_unknown_tool_names_the_available_ones():
    with pytest.raises(EngineBuildError, match=r"no flag facts for tool `build.py`. Available"):
        validate_argv("build.py", [])


def test_every_architecture_has_a_converter_table():
    assert set(CONVERTER_DIRS.values()) == {"llama", "gpt", "qwen", "gptj", "falcon"}
    for folder in set(CONVERTER_DIRS.values()):
        validate_argv(f"convert_checkpoint.py:{folder}", ["--tp_size", "1", "--dtype", "float16"])
    assert CONVERTER_LOCATIONS[0] == "models/core/{dir}"
