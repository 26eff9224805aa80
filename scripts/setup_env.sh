#!/usr/bin/env bash
# Create ./.venv with torch, detectron2 (pure-Python sal-detectron2 wheel) and facelib installed.
# Idempotent: returns at once when the venv is already complete. Usage: bash scripts/setup_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FACELIB_VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.facelib-setup-v1"
if [ -f "$STAMP" ]; then exit 0; fi

"$PY" - <<'PYEOF'
import sys
if sys.version_info[:2] < (3, 10):
    sys.exit(f"facelib needs Python >= 3.10, found {sys.version.split()[0]}")
PYEOF

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade "pip>=23"
# torch first (large, from the local wheel cache where present), then the pinned requirements.
"$VPY" -m pip install -q torch==2.14.1 torchvision==0.29.1
"$VPY" -m pip install -q -r requirements.txt
bash scripts/install_detectron2.sh "$VPY"
"$VPY" -m pip install -q --no-deps --no-build-isolation -e .
"$VPY" -c "import facelib, detectron2.layers, detectron2.modeling; print('facelib set-up OK: detectron2', __import__('detectron2').__version__)"
touch "$STAMP"
