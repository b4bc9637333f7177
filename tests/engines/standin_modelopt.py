"""Stand-in for the quantization Python (MODELOPT_PYTHON) in tests.

`-c <code>` answers the tool check with a ModelOpt version; `<script> <flags>` records the flags
(JSON lines in $STANDIN_LOG, tool "modelopt") and writes a Hugging Face folder shaped like
ModelOpt's export (config.json with quantization_config, hf_quant_config.json, safetensors).
$STANDIN_FAIL = "modelopt:<text in --output_dir>" writes half a folder and exits 1.
"""

import json
import os
import sys
from pathlib import Path

QUANT_ALGO = {"fp8": "FP8", "int8_sq": "W8A8_SQ_PER_CHANNEL", "int4_awq": "W4A16_AWQ"}


def parse(argv: list[str]) -> dict:
    return {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2)}


def main() -> int:
    if sys.argv[1] == "-c":
        print("0.47.0")
        return 0
    args = sys.argv[2:]
    with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": "modelopt", "argv": args, "cwd": os.getcwd()}) + "\n")
    flags = parse(args)
    out = Path(flags["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    fail_tool, _, fail_text = os.environ.get("STANDIN_FAIL", "").partition(":")
    if fail_tool == "modelopt" and fail_text in str(out):
        (out / "config.json").write_text("{}")
        print("error: CUDA out of memory (stand-in failure)", file=sys.stderr)
        return 1
    kv = flags["kv_cache_qformat"]
    quant = {
        "quant_algo": QUANT_ALGO[flags["qformat"]],
        "kv_cache_quant_algo": None if kv == "none" else kv.upper(),
    }
    config = json.loads((Path(flags["model_dir"]) / "config.json").read_text())
    config["quantization_config"] = {**quant, "quant_method": "modelopt"}
    (out / "config.json").write_text(json.dumps(config))
    (out / "hf_quant_config.json").write_text(json.dumps({"quantization": quant}))
    (out / "model.safetensors").write_bytes(b"stand-in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
