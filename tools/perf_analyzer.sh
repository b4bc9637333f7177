#!/usr/bin/env bash
# Make perf_analyzer (shipped in the tritonclient 2.51.0 wheel as .venv/bin/perf_analyzer) runnable
# on a machine without CUDA. It links two libraries a plain Python image lacks:
#   - libb64.so.0d   Debian's libb64-0d (apt-get install, when root and missing)
#   - libcudart.so.12 from the PyPI package nvidia-cuda-runtime-cu12, installed into a separate
#     tools venv (never into the project's runtime venv), or into --target DIR
# Prints the LD_LIBRARY_PATH to use on the last line of stdout. With `-- ARGS`, runs perf_analyzer.
#
# Usage:
#   tools/perf_analyzer.sh                      # set up; print LD_LIBRARY_PATH=...
#   tools/perf_analyzer.sh --target DIR         # pip install --target DIR instead of a venv
#   tools/perf_analyzer.sh -- -m model --concurrency-range 4     # set up, then run perf_analyzer
# Environment: PERF_ANALYZER (binary; default .venv/bin/perf_analyzer), TOOLS_VENV (default
# .venv-tools), PYTHON (interpreter for the tools venv; default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PERF_ANALYZER="${PERF_ANALYZER:-$ROOT/.venv/bin/perf_analyzer}"
TOOLS_VENV="${TOOLS_VENV:-$ROOT/.venv-tools}"
PYTHON="${PYTHON:-python3}"
CUDART_PIN="nvidia-cuda-runtime-cu12==12.9.79"
TARGET=""
RUN=0
ARGS=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --) RUN=1; shift; ARGS=("$@"); break ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "perf_analyzer.sh: $*" >&2; }

if [[ ! -x "$PERF_ANALYZER" ]]; then
  log "no perf_analyzer at $PERF_ANALYZER. Fix: pip install 'tritonclient[all]==2.51.0' into .venv"
  exit 1
fi

# 1. libb64 (Debian).
if ! ldconfig -p | grep -q 'libb64\.so\.0d'; then
  if [[ "$(id -u)" -eq 0 ]]; then
    log "installing libb64-0d"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libb64-0d >&2
  else
    log "libb64.so.0d is missing and this is not root. Fix: sudo apt-get install libb64-0d"
    exit 1
  fi
fi

# 2. libcudart.so.12 (PyPI), kept out of the runtime venv.
if [[ -n "$TARGET" ]]; then
  SITE="$TARGET"
  if ! compgen -G "$SITE/nvidia/cuda_runtime/lib/libcudart.so.12*" >/dev/null; then
    log "installing $CUDART_PIN into $TARGET"
    "$PYTHON" -m pip install -q --no-deps --target "$TARGET" "$CUDART_PIN" >&2
  fi
else
  if [[ ! -x "$TOOLS_VENV/bin/python" ]]; then
    log "creating tools venv $TOOLS_VENV"
    "$PYTHON" -m venv "$TOOLS_VENV" >&2
  fi
  SITE="$("$TOOLS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if ! compgen -G "$SITE/nvidia/cuda_runtime/lib/libcudart.so.12*" >/dev/null; then
    log "installing $CUDART_PIN into $TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install -q --no-deps "$CUDART_PIN" >&2
  fi
fi
CUDART_DIR="$SITE/nvidia/cuda_runtime/lib"
LIBS="$CUDART_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 3. Check that every library now resolves.
MISSING="$(LD_LIBRARY_PATH="$LIBS" ldd "$PERF_ANALYZER" | grep 'not found' || true)"
if [[ -n "$MISSING" ]]; then
  log "perf_analyzer still misses libraries:"
  echo "$MISSING" >&2
  exit 1
fi

if [[ "$RUN" -eq 1 ]]; then
  LD_LIBRARY_PATH="$LIBS" exec "$PERF_ANALYZER" "${ARGS[@]}"
fi
echo "LD_LIBRARY_PATH=$LIBS"
