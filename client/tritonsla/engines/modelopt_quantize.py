"""Quantize a Hugging Face causal LM with NVIDIA ModelOpt and write a Hugging Face folder.

A standalone program (it imports no tritonsla code): `tritonsla engines` runs it for llmapi
profiles with a Python that has torch, transformers and nvidia-modelopt (the quantization tools
venv, `./build.sh quant-tools`), one run per quantization format, into a staging folder.

Steps, as ModelOpt's own hf_ptq example does them: load the model, calibrate with `mtq.quantize`
(the format's config, plus FP8 KV-cache quantizers when asked), export with
`export_hf_checkpoint` (config.json with `quantization_config`, hf_quant_config.json,
safetensors), which TensorRT-LLM's LLM API loads. The program then compares the quantized model
with the unquantized one on the calibration prompts and writes quantization_report.json.

Calibration: the lines of --calib_file (one sample a line), or a small built-in set of prompts.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

FORMATS = {"fp8": "FP8_DEFAULT_CFG", "int8_sq": "INT8_SMOOTHQUANT_CFG", "int4_awq": "INT4_AWQ_CFG"}
"""--qformat -> modelopt.torch.quantization config name."""

KV_FORMATS = {"fp8": "FP8_KV_CFG"}
DTYPES = ("auto", "float16", "bfloat16", "float32")
REPORT = "quantization_report.json"

BUILTIN_PROMPTS = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "In 1969, astronauts first walked on the Moon and returned safely to Earth.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "Summarize the following report: revenue grew by twelve percent this quarter.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Dear customer, your order has shipped and will arrive within three days.",
    "The capital of France is Paris, and the capital of Japan is Tokyo.",
    "Translate to German: Where is the nearest train station, please?",
    "A large language model predicts the next token from the tokens before it.",
    "Q: What is the boiling point of water at sea level? A: 100 degrees Celsius.",
    "SELECT name, total FROM orders WHERE total > 100 ORDER BY total DESC;",
    "The committee will meet on Tuesday to review the budget for next year.",
    "Once upon a time, in a village by the sea, there lived an old fisherman.",
    "Error: connection refused. Check that the server is running and reachable.",
    "The mitochondria is the powerhouse of the cell, producing most of its ATP.",
    "Please write a short poem about autumn leaves falling in the park.",
)


def build_parser() -> argparse.ArgumentParser:
    """The flags (the plan in tritonsla.engines.llmapi_plan is checked against them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_dir", required=True, help="Hugging Face model folder")
    parser.add_argument("--output_dir", required=True, help="folder to write (created)")
    parser.add_argument("--qformat", required=True, choices=sorted(FORMATS))
    parser.add_argument("--kv_cache_qformat", default="none", choices=["none", *KV_FORMATS])
    parser.add_argument(
        "--dtype", default="auto", choices=DTYPES, help="model dtype (auto: float32 on a CPU)"
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cuda", "cpu"], help="auto: cuda if present"
    )
    parser.add_argument("--calib_size", type=int, default=len(BUILTIN_PROMPTS))
    parser.add_argument("--calib_max_seq_length", type=int, default=512)
    parser.add_argument("--calib_file", default=None, help="calibration text, a sample a line")
    return parser


def quant_config(mtq, qformat: str, kv_cache_qformat: str) -> dict:
    """The ModelOpt config of `qformat`, with KV-cache quantizers added when asked."""
    config = copy.deepcopy(getattr(mtq, FORMATS[qformat]))
    if kv_cache_qformat == "none":
        return config
    extra = getattr(mtq, KV_FORMATS[kv_cache_qformat])["quant_cfg"]
    if isinstance(config["quant_cfg"], dict):  # ModelOpt before the list form
        config["quant_cfg"].update(extra)
    else:
        config["quant_cfg"] = [*config["quant_cfg"], *extra]
    return config


def calibration_texts(calib_file: str | None, size: int) -> list[str]:
    """Up to `size` samples, repeated when the source has fewer."""
    if calib_file:
        lines = [line for line in Path(calib_file).read_text().splitlines() if line.strip()]
    else:
        lines = list(BUILTIN_PROMPTS)
    if not lines:
        raise SystemExit(f"error: no calibration text in {calib_file}")
    return [lines[i % len(lines)] for i in range(size)]


def _compare(torch, reference, quantized, batches) -> dict:
    """Relative logit error and top-1 agreement of `quantized` against `reference`."""
    err_num = err_den = agree = count = 0.0
    with torch.no_grad():
        for batch in batches:
            a = reference(**batch).logits.float()
            b = quantized(**batch).logits.float()
            err_num += float((a - b).pow(2).sum())
            err_den += float(a.pow(2).sum())
            agree += float((a.argmax(-1) == b.argmax(-1)).sum())
            count += a.shape[0] * a.shape[1]
    return {
        "relative_logit_error": (err_num / err_den) ** 0.5,
        "top1_agreement": agree / count,
        "tokens": int(count),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.export import export_hf_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype_name = "float32" if args.dtype == "auto" and device == "cpu" else args.dtype
    dtype = "auto" if dtype_name == "auto" else getattr(torch, dtype_name)
    print(f"loading {args.model_dir} ({dtype_name}) on {device}", flush=True)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=dtype).to(device)
    model.eval()
    reference = copy.deepcopy(model)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    batches = [
        tokenizer(text, return_tensors="pt", truncation=True, max_length=args.calib_max_seq_length)
        for text in calibration_texts(args.calib_file, args.calib_size)
    ]
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]

    def forward_loop(m) -> None:
        with torch.no_grad():
            for batch in batches:
                m(**batch)

    started = time.monotonic()
    print(f"calibrating {args.qformat} on {len(batches)} samples", flush=True)
    mtq.quantize(model, quant_config(mtq, args.qformat, args.kv_cache_qformat), forward_loop)
    seconds = time.monotonic() - started
    report = {
        "qformat": args.qformat,
        "kv_cache_qformat": args.kv_cache_qformat,
        "device": device,
        "dtype": dtype_name,
        "calibration_samples": len(batches),
        "calibration_seconds": round(seconds, 3),
        **_compare(torch, reference, model, batches),
    }
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    export_hf_checkpoint(model, export_dir=str(out))
    tokenizer.save_pretrained(str(out))
    (out / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
