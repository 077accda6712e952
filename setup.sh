#!/usr/bin/env bash
# Creates ./.venv with everything the studio and its tests need (CPU-only; nothing else is downloaded later).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first and pinned, so that nothing later can pull a CUDA build.
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,cluster]"
# Nothing above may have replaced the pinned CPU torch (onnx, onnxruntime, ray: none depends on torch).
.venv/bin/python -c "import torch, onnxruntime; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"
