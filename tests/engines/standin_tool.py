"""Stand-in for TensorRT-LLM's trtllm-build, convert_checkpoint.py and quantize.py in tests.

The fixture copies this file to bin/trtllm-build and to the examples folder; the name it runs
under picks the tool. It records its argv (JSON lines in $STANDIN_LOG), writes a checkpoint or
engine folder reflecting the flags it got (config.json as TensorRT-LLM 1.x lays it out, rank
files), and fails on demand: $STANDIN_FAIL = "<tool>:<text in --output_dir>" makes it write a
half-built folder and exit 1. $STANDIN_SHRINK_BATCH makes trtllm-build write max_batch_size 1.
"""

import json
import os
import sys
from pathlib import Path

QUANT_ALGO = {"int8": "W8A16", "int4": "W4A16"}


def parse(argv: list[str]) -> dict:
    """`--flag value` pairs; a flag followed by another flag (or nothing) is a switch."""
    flags: dict = {}
    for index, item in enumerate(argv):
        if item.startswith("--"):
            following = argv[index + 1] if index + 1 < len(argv) else None
            flags[item[2:]] = True if following is None or following.startswith("--") else following
    return flags


def checkpoint_config(flags: dict, tool: str) -> dict:
    tp, pp = int(flags.get("tp_size", 1)), int(flags.get("pp_size", 1))
    if tool == "quantize.py":
        quant = {"quant_algo": flags["qformat"].upper(), "kv_cache_quant_algo": "FP8"}
    else:
        precision = flags.get("weight_only_precision") if flags.get("use_weight_only") else None
        quant = {"quant_algo": QUANT_ALGO.get(precision), "kv_cache_quant_algo": None}
    return {
        "architecture": "LlamaForCausalLM",
        "dtype": flags["dtype"],
        "mapping": {"world_size": tp * pp, "tp_size": tp, "pp_size": pp},
        "quantization": quant,
    }


def engine_config(flags: dict) -> dict:
    checkpoint = json.loads((Path(flags["checkpoint_dir"]) / "config.json").read_text())
    batch = 1 if os.environ.get("STANDIN_SHRINK_BATCH") else int(flags["max_batch_size"])
    return {
        "version": "1.2.1",
        "pretrained_config": checkpoint,
        "build_config": {
            "max_batch_size": batch,
            "max_input_len": int(flags["max_input_len"]),
            "max_seq_len": int(flags["max_seq_len"]),
            "max_num_tokens": int(flags["max_num_tokens"]),
            "max_beam_width": int(flags["max_beam_width"]),
            "kv_cache_type": flags["kv_cache_type"].upper(),
            "plugin_config": {
                "use_paged_context_fmha": flags["use_paged_context_fmha"] == "enable",
                "gemm_plugin": flags["gemm_plugin"],
                "multiple_profiles": flags["multiple_profiles"] == "enable",
                "tokens_per_block": int(flags["tokens_per_block"]),
            },
        },
    }


def main() -> int:
    tool = Path(sys.argv[0]).name
    args = sys.argv[1:]
    with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": args, "cwd": os.getcwd()}) + "\n")
    flags = parse(args)
    out = Path(flags["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    print(f"{tool}: writing {out}")
    fail_tool, _, fail_text = os.environ.get("STANDIN_FAIL", "").partition(":")
    if fail_tool == tool and fail_text in str(out):
        (out / "config.json").write_text("{}")
        (out / "rank0.engine").write_bytes(b"half")
        print("error: CUDA out of memory (stand-in failure)", file=sys.stderr)
        return 1
    if tool == "trtllm-build":
        config = engine_config(flags)
        suffix = "engine"
    else:
        if not (Path(flags["model_dir"]) / "config.json").is_file():
            print(f"error: no config.json in {flags['model_dir']}", file=sys.stderr)
            return 1
        config = checkpoint_config(flags, tool)
        suffix = "safetensors"
    (out / "config.json").write_text(json.dumps(config, indent=2))
    mapping = (config["pretrained_config"] if tool == "trtllm-build" else config)["mapping"]
    for rank in range(mapping["world_size"]):
        (out / f"rank{rank}.{suffix}").write_bytes(b"stand-in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
