#!/usr/bin/env bash
# GPU acceptance run of the Llama-3.1-8B example on one H100, for whoever has the GPU.
#
#   tools/gpu_acceptance.sh [--path auto|trt-engine|llmapi] [--out DIR] [--dry-run]
#
# 1. checks the machine: driver and GPU memory (nvidia-smi), the TensorRT-LLM version;
# 2. builds each profile of deploy/h100-llama8b.yaml (trt-engine, TensorRT-LLM 1.2.x) or of its
#    llmapi twin deploy/h100-llama8b-llmapi.yaml (newer TensorRT-LLM); --path auto picks by the
#    installed TensorRT-LLM version;
# 3. serves it, runs the SLO capacity search, throughput at 128/128 and 2048/2048 tokens, and the
#    realtime class's batch-1 decode;
# 4. prints each figure beside NVIDIA's published one: Llama-3.1-8B FP8 on 1 x H100, 28,312
#    output tokens/s at 128/128 and 9,305 at 2048/2048 (TensorRT-LLM perf overview, v1.0
#    PyTorch backend), and the batch-1 decode against the HBM roofline (3.35 TB/s over ~8 GB of
#    FP8 weights: about 2.4 ms per token).
# --dry-run prints every step and the exact build commands (`tritonsla engines --dry-run`) and
# runs nothing else; it needs no GPU. Environment: TRTLLM_PYTHON (Python with tensorrt_llm,
# default python3), TRITONSLA (default .venv/bin/tritonsla).
set -euo pipefail
cd "$(dirname "$0")/.."

TRITONSLA=${TRITONSLA:-.venv/bin/tritonsla}
TRTLLM_PYTHON=${TRTLLM_PYTHON:-python3}
PATH_CHOICE=auto
OUT=reports/gpu-acceptance
DRY_RUN=0
PUBLISHED_128=28312
PUBLISHED_2048=9305
ROOFLINE_MS=2.4

usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --path) PATH_CHOICE=${2:-}; shift 2 || usage ;;
    --out) OUT=${2:-}; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
case "$PATH_CHOICE" in auto|trt-engine|llmapi) ;; *) echo "--path: $PATH_CHOICE" >&2; usage ;; esac

step() { echo; echo "== $*"; }
run() {  # print the command; run it unless --dry-run
  echo "\$ $(printf '%q ' "$@")"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

check_environment() {
  step "environment: driver, GPU memory, TensorRT-LLM"
  run nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  run "$TRTLLM_PYTHON" -c "import tensorrt_llm; print(tensorrt_llm.__version__)"
  if [ "$DRY_RUN" = 0 ]; then
    local memory
    memory=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -n1)
    if [ "${memory%%.*}" -lt 79000 ]; then
      echo "warning: ${memory} MiB of GPU memory; the example's KV fractions assume 80 GB" >&2
    fi
  fi
}

paths_to_run() {  # the deploy kinds this run covers
  if [ "$PATH_CHOICE" != auto ]; then echo "$PATH_CHOICE"; return; fi
  if [ "$DRY_RUN" = 1 ]; then echo "trt-engine llmapi"; return; fi
  local version
  version=$("$TRTLLM_PYTHON" -c "import tensorrt_llm; print(tensorrt_llm.__version__)" | tail -n1)
  case "$version" in 1.2.*) echo trt-engine ;; *) echo llmapi ;; esac
}

deploy_of() {
  case "$1" in trt-engine) echo deploy/h100-llama8b.yaml ;; llmapi) echo deploy/h100-llama8b-llmapi.yaml ;; esac
}

bench() {  # name, then bench flags: one report into $OUT/<kind>/<name>/summary.json
  local name=$1; shift
  run "$TRITONSLA" bench --deploy "$DEPLOY" --out "$OUT/$KIND/$name" "$@"
}

figure() {  # label, report, JSON path (python expression on the report), published, unit
  local value
  if [ "$DRY_RUN" = 1 ]; then value="(measured)"; else
    value=$("$TRITONSLA_PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print(round($3, 2))" \
      "$2/summary.json")
  fi
  printf '%-34s %14s   published %s %s\n' "$1" "$value" "$4" "$5"
}

acceptance() {
  KIND=$1
  DEPLOY=$(deploy_of "$KIND")
  local repo=".cache/repos/acceptance-$KIND"
  step "$KIND: build or prepare every profile of $DEPLOY"
  if [ "$DRY_RUN" = 1 ]; then "$TRITONSLA" engines --deploy "$DEPLOY" --dry-run; fi
  run "$TRITONSLA" engines --deploy "$DEPLOY"
  step "$KIND: serve"
  run "$TRITONSLA" serve --deploy "$DEPLOY" --repo "$repo" --force --startup-timeout 1800
  step "$KIND: SLO capacity search (every class, Poisson arrivals)"
  bench capacity --capacity
  step "$KIND: throughput, batch class, 128/128 and 2048/2048 tokens"
  bench tput-128 --mix batch=1 --concurrency 512 --requests 3000 --input-tokens 128 --output-tokens 128
  bench tput-2048 --mix batch=1 --concurrency 256 --requests 1000 --input-tokens 2048 --output-tokens 2048
  step "$KIND: realtime batch-1 decode"
  bench decode-1 --mix realtime=1 --concurrency 1 --requests 20 --input-tokens 128 --output-tokens 512
  step "$KIND: stop"
  run "$TRITONSLA" stop
  step "$KIND: figures beside NVIDIA's (Llama-3.1-8B FP8, 1 x H100 SXM, max-throughput settings;"
  echo "   ours: the batch class as profiled, max batch 64, precision per profile)"
  local runs="r['runs'][0]['summary']"
  figure "128/128 output tokens/s" "$OUT/$KIND/tput-128" "$runs['overall']['output_tokens_per_s']" \
    "$PUBLISHED_128" "tokens/s"
  figure "2048/2048 output tokens/s" "$OUT/$KIND/tput-2048" "$runs['overall']['output_tokens_per_s']" \
    "$PUBLISHED_2048" "tokens/s"
  figure "realtime batch-1 ms/token (p50)" "$OUT/$KIND/decode-1" "$runs['classes']['realtime']['itl_ms']['p50']" \
    "roofline >= $ROOFLINE_MS" "ms (FP8)"
  echo "capacity per class: $OUT/$KIND/capacity/summary.json"
}

TRITONSLA_PYTHON="$(dirname "$TRITONSLA")/python"
[ "$DRY_RUN" = 1 ] && echo "dry run: nothing below is executed but the engines plans"
check_environment
for kind in $(paths_to_run); do acceptance "$kind"; done
