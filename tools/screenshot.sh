#!/usr/bin/env bash
# A screenshot of the real studio window (xcb platform under Xvfb), taken mid-tracking on a real OTB sequence.
#   tools/screenshot.sh [SEQUENCE_DIR] [OUT.png]      (ENGINE=csrt tools/screenshot.sh ... to pick the engine)
# Needs: apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-image0
#        libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libegl1 libgl1 libfontconfig1 libdbus-1-3
set -euo pipefail
cd "$(dirname "$0")/.."
SEQ=${1:-../shared/data/otb/Subway}
OUT=${2:-out/studio-screenshot.png}
RUN=${RUN:-80}
AT=${AT:-50}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$(dirname "$OUT")"
command -v xvfb-run >/dev/null || { echo "error: xvfb-run not found (apt-get install xvfb)" >&2; exit 2; }
export QT_QPA_PLATFORM=xcb
# Fresh settings, so recent files and chosen weights of the user do not leak into the picture.
export XDG_CONFIG_HOME="$(mktemp -d)"
trap 'rm -rf "$XDG_CONFIG_HOME"' EXIT
xvfb-run -a -s "-screen 0 1600x1000x24" "$PY" main.py "$SEQ" --run "$RUN" --screenshot "$OUT" --screenshot-at "$AT" \
    ${ENGINE:+--engine "$ENGINE"}
echo "screenshot: $OUT"
