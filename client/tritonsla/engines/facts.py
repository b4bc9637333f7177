"""Command-line flags of the pinned TensorRT-LLM release, as data, and a check of planned argv.

Release: TensorRT-LLM 1.2.1 (the `gpu` extra pins `tensorrt-llm==1.2.1`; the last line that ships
`trtllm-build` and the convert scripts: 1.3.0 removes them). Sources, all in NVIDIA/TensorRT-LLM:

- `trtllm-build`: tensorrt_llm/commands/build.py (`parse_arguments`) plus the plugin flags that
  tensorrt_llm/plugin/plugin.py adds (`cli_plugin_args`, `add_plugin_argument`: dtype plugins
  take `auto/float16/float32/bfloat16/int32/disable`, `--gemm_plugin` also `fp8/nvfp4`, feature
  switches take `enable/disable`); the usage text of docs/source/commands/trtllm-build.
- `convert_checkpoint.py`: examples/models/core/{llama,gpt,qwen}/convert_checkpoint.py and
  examples/models/contrib/{gptj,falcon}/convert_checkpoint.py (`parse_arguments`).
- `quantize.py`: examples/quantization/quantize.py (ModelOpt).

Only flags this project plans, or that were read in those files, are listed: a flag missing here
is rejected, which is the safe direction. `--paged_kv_cache` is listed as deprecated (build.py
warns and points to `--kv_cache_type`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritonsla.errors import EngineBuildError

RELEASE = "1.2.1"
"""The TensorRT-LLM release these flags were read from; the `gpu` extra pins it."""

RELEASE_LINE = "1.2."
"""Installed versions accepted at build time (patch releases of the pinned line)."""

SOURCES = {
    "trtllm-build": "tensorrt_llm/commands/build.py, tensorrt_llm/plugin/plugin.py",
    "quantize.py": "examples/quantization/quantize.py",
    "convert_checkpoint.py": "examples/models/{core,contrib}/<arch>/convert_checkpoint.py",
}

INT = "int"
TEXT = "text"
SWITCH = "switch"


@dataclass(frozen=True)
class Flag:
    """One flag: it takes an int, free text (paths, names), nothing, or one of `choices`."""

    kind: str = TEXT
    choices: tuple[str, ...] = ()


def _choices(*values: str) -> Flag:
    return Flag(choices=values)


ENABLE = _choices("enable", "disable")
PLUGIN_DTYPE = _choices("auto", "float16", "float32", "bfloat16", "int32", "disable")
DTYPE = _choices("auto", "float16", "bfloat16", "float32")

TRTLLM_BUILD: dict[str, Flag] = {
    **dict.fromkeys(
        (
            "--checkpoint_dir",
            "--model_config",
            "--build_config",
            "--output_dir",
            "--input_timing_cache",
            "--output_timing_cache",
            "--visualize_network",
        ),
        Flag(TEXT),
    ),
    **dict.fromkeys(
        (
            "--max_batch_size",
            "--max_input_len",
            "--max_seq_len",
            "--max_beam_width",
            "--max_num_tokens",
            "--opt_num_tokens",
            "--max_encoder_input_len",
            "--max_prompt_embedding_table_size",
            "--workers",
            "--max_lora_rank",
            "--max_draft_len",
            "--tokens_per_block",
        ),
        Flag(INT),
    ),
    **dict.fromkeys(
        (
            "--strip_plan",
            "--weight_sparsity",
            "--weight_streaming",
            "--fast_build",
            "--enable_debug_output",
            "--dry_run",
            "--monitor_memory",
            "--gather_context_logits",
            "--gather_generation_logits",
            "--gather_all_token_logits",
        ),
        Flag(SWITCH),
    ),
    "--kv_cache_type": _choices("continuous", "paged", "disabled"),
    "--profiling_verbosity": _choices("layer_names_only", "detailed", "none"),
    "--log_level": _choices(
        "internal_error", "error", "warning", "info", "verbose", "debug", "trace"
    ),
    "--logits_dtype": _choices("float16", "float32"),
    "--speculative_decoding_mode": _choices(
        "draft_tokens_external", "lookahead_decoding", "medusa", "explicit_draft_tokens", "eagle"
    ),
    **dict.fromkeys(
        (
            "--bert_attention_plugin",
            "--gpt_attention_plugin",
            "--fp8_rowwise_gemm_plugin",
            "--lora_plugin",
            "--moe_plugin",
            "--mamba_conv1d_plugin",
            "--nccl_plugin",
        ),
        PLUGIN_DTYPE,
    ),
    "--gemm_plugin": _choices(
        "auto", "float16", "float32", "bfloat16", "int32", "fp8", "nvfp4", "disable"
    ),
    "--gemm_swiglu_plugin": _choices("fp8", "disable"),
    "--low_latency_gemm_plugin": _choices("fp8", "disable"),
    "--low_latency_gemm_swiglu_plugin": _choices("fp8", "disable"),
    "--gemm_allreduce_plugin": _choices("float16", "bfloat16", "disable"),
    **dict.fromkeys(
        (
            "--dora_plugin",
            "--context_fmha",
            "--bert_context_fmha_fp32_acc",
            "--remove_input_padding",
            "--use_paged_context_fmha",
            "--use_fp8_context_fmha",
            "--fuse_fp4_quant",
            "--multiple_profiles",
            "--paged_state",
            "--streamingllm",
            "--norm_quant_fusion",
            "--reduce_fusion",
            "--user_buffer",
            "--use_fused_mlp",
            "--pp_reduce_scatter",
        ),
        ENABLE,
    ),
}

DEPRECATED = {"--paged_kv_cache": "use --kv_cache_type paged"}
"""Flags the release still parses but warns about: planning them is an error."""

QUANTIZE: dict[str, Flag] = {
    **dict.fromkeys(("--model_dir", "--output_dir", "--calib_dataset"), Flag(TEXT)),
    **dict.fromkeys(
        (
            "--tp_size",
            "--pp_size",
            "--calib_size",
            "--batch_size",
            "--calib_max_seq_length",
            "--tokenizer_max_seq_length",
            "--seed",
            "--awq_block_size",
        ),
        Flag(INT),
    ),
    "--dtype": DTYPE,
    "--qformat": _choices(
        "nvfp4", "fp8", "int8_sq", "int4_awq", "w4a8_awq", "int8_wo", "int4_wo", "full_prec"
    ),
    "--kv_cache_dtype": _choices("int8", "fp8"),
    "--device": _choices("cuda", "cpu"),
    "--export_format": _choices("tensorrt_llm", "hf"),
}

_CONVERT_COMMON: dict[str, Flag] = {
    **dict.fromkeys(("--model_dir", "--output_dir"), Flag(TEXT)),
    **dict.fromkeys(("--tp_size", "--pp_size", "--workers"), Flag(INT)),
    "--dtype": DTYPE,
    "--use_weight_only": Flag(SWITCH),
}


def _convert(weight_only: tuple[str, ...], **extra: Flag) -> dict[str, Flag]:
    flags = {**_CONVERT_COMMON, "--weight_only_precision": Flag(choices=weight_only)}
    flags.update({f"--{name}": flag for name, flag in extra.items()})
    return flags


CONVERT_CHECKPOINT: dict[str, dict[str, Flag]] = {
    "llama": _convert(
        ("int8", "int4", "int8_gptq", "int4_gptq", "int4_awq"),
        int8_kv_cache=Flag(SWITCH),
        fp8_kv_cache=Flag(SWITCH),
        load_by_shard=Flag(SWITCH),
        use_parallel_embedding=Flag(SWITCH),
    ),
    "gpt": _convert(
        ("int8", "int4"),
        int8_kv_cache=Flag(SWITCH),
        load_model_on_cpu=Flag(SWITCH),
        use_parallel_embedding=Flag(SWITCH),
    ),
    "qwen": _convert(
        ("int8", "int4", "int4_gptq", "int8_gptq"),
        int8_kv_cache=Flag(SWITCH),
        load_model_on_cpu=Flag(SWITCH),
        use_parallel_embedding=Flag(SWITCH),
    ),
    "gptj": _convert(("int8", "int4")),
    "falcon": _convert(
        ("int8", "int4"), load_by_shard=Flag(SWITCH), use_parallel_embedding=Flag(SWITCH)
    ),
}
"""Per example folder (models/core/<dir> or models/contrib/<dir>)."""

CONVERTER_DIRS = {
    "gpt2": "gpt",
    "llama": "llama",
    "mistral": "llama",
    "qwen2": "qwen",
    "gptj": "gptj",
    "falcon": "falcon",
}
"""Deploy `model.architecture` -> example folder whose convert_checkpoint.py handles it.
Mistral is converted by the LLaMA script (LLaMAForCausalLM covers MistralForCausalLM)."""

CONVERTER_LOCATIONS = ("models/core/{dir}", "models/contrib/{dir}", "{dir}")
"""Where examples/ keeps each converter: core and contrib models (1.x), flat (older layouts)."""


def tool_flags(tool: str) -> dict[str, Flag]:
    """Flag table of `tool`: `trtllm-build`, `quantize.py` or `convert_checkpoint.py:<dir>`."""
    if tool == "trtllm-build":
        return TRTLLM_BUILD
    if tool == "quantize.py":
        return QUANTIZE
    script, _, folder = tool.partition(":")
    if script == "convert_checkpoint.py" and folder in CONVERT_CHECKPOINT:
        return CONVERT_CHECKPOINT[folder]
    tools = [
        "trtllm-build",
        "quantize.py",
        *(f"convert_checkpoint.py:{d}" for d in CONVERT_CHECKPOINT),
    ]
    raise EngineBuildError(f"no flag facts for tool `{tool}`. Available: {', '.join(tools)}")


def _value_problem(flag: str, spec: Flag, value: str | None) -> str | None:
    if value is None or value.startswith("--"):
        return f"`{flag}` needs a value"
    if spec.choices and value not in spec.choices:
        return f"`{flag} {value}`: value not accepted. Available: {', '.join(spec.choices)}"
    if spec.kind == INT and not value.lstrip("-").isdigit():
        return f"`{flag} {value}`: expected an integer"
    return None


def validate_argv(tool: str, argv: Sequence[str]) -> None:
    """Check every flag and value of `argv` (the arguments after the program or script) against
    TensorRT-LLM RELEASE; raise EngineBuildError listing every problem."""
    flags = tool_flags(tool)
    problems: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(argv):
        flag = argv[index]
        index += 1
        if flag in DEPRECATED:
            problems.append(f"`{flag}` is deprecated in TensorRT-LLM {RELEASE}: {DEPRECATED[flag]}")
            continue
        spec = flags.get(flag)
        if spec is None:
            problems.append(f"`{flag}` is not a {tool} flag of TensorRT-LLM {RELEASE}")
            continue
        if flag in seen:
            problems.append(f"`{flag}` is given twice")
        seen.add(flag)
        if spec.kind == SWITCH:
            continue
        value = argv[index] if index < len(argv) else None
        problem = _value_problem(flag, spec, value)
        if problem:
            problems.append(problem)
        if value is not None and not value.startswith("--"):
            index += 1
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        raise EngineBuildError(
            f"planned {tool} command does not fit TensorRT-LLM {RELEASE} "
            f"(facts: {SOURCES[tool.partition(':')[0]]}):\n{listed}"
        )
