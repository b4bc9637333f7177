#!/usr/bin/env bash
# triton-sla build entry point.
#   ./build.sh setup            create .venv, install everything (bundled tritonserver included),
#                               make the default CPU model in assets/ (idempotent)
#   ./build.sh render [args]    render model_repo/ from deploy/cpu.yaml (tritonsla render)
#   ./build.sh demo [args]      the main job: sets up if needed, then `tritonsla demo`
#   ./build.sh test             lint + the whole test suite (sets up if needed)
#   ./build.sh engines [args]   compile TensorRT-LLM engines per profile (GPU machines),
#                               e.g. --deploy deploy/h100-llama8b.yaml [--dry-run]
#   ./build.sh quant-tools      .cache/quant-venv: torch (CPU), transformers and ModelOpt, the
#                               quantization Python of llmapi builds (about 1.5 GB)
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY="$VENV/bin/python"

pick_python() {
  # The bundled Python-backend stubs link libpython of their version; 3.11 is the tested one.
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo "error: no python3 found; install Python 3.11" >&2
  exit 1
}

ensure_libpython() {
  local version
  version=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if ldconfig -p 2>/dev/null | grep -q "libpython${version}\.so"; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing libpython${version} (the Python backend stub links it)"
    apt-get update -qq && apt-get install -y -qq "libpython${version}" >/dev/null
  else
    echo "warning: libpython${version}.so not found; the Python backend stub needs it" \
         "(sudo apt-get install libpython${version})" >&2
  fi
}

setup() {
  if [ ! -x "$PY" ]; then
    "$(pick_python)" -m venv "$VENV"
  fi
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
  "$PY" -m pip install --quiet --disable-pip-version-check -e ".[server,dev]"
  ensure_libpython
  "$VENV/bin/tritonsla" assets
  echo "setup done: $("$VENV/bin/tritonsla" --version)"
}

case "${1:-}" in
  setup) setup ;;
  render) shift; "$VENV/bin/tritonsla" render "$@" ;;
  demo)
    shift
    [ -x "$VENV/bin/tritonsla" ] || setup
    "$VENV/bin/tritonsla" demo "$@"
    ;;
  test)
    shift
    [ -x "$VENV/bin/ruff" ] && [ -x "$VENV/bin/tritonsla" ] || setup
    "$VENV/bin/ruff" check .
    "$VENV/bin/tritonsla" render --check
    "$VENV/bin/pytest" -q "$@"
    ;;
  engines) shift; "$VENV/bin/tritonsla" engines "$@" ;;
  quant-tools)
    [ -x .cache/quant-venv/bin/python ] || "$(pick_python)" -m venv .cache/quant-venv
    .cache/quant-venv/bin/pip install --quiet --disable-pip-version-check \
      torch==2.13.0 nvidia-modelopt==0.47.0 transformers==5.24.0 safetensors==0.8.0 \
      requests==2.34.2
    echo "quantization tools ready: .cache/quant-venv/bin/python"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
