#!/usr/bin/env bash
# Create ./.venv with torch, detectron2 (pure-Python sal-detectron2 wheel) and facelib installed,
# at the exact versions of constraints.txt (the lock file; scripts/lock_requirements.sh makes it).
# Idempotent: returns at once when the venv was set up by the same install steps. The stamp holds a
# hash of this script, install_detectron2.sh, requirements.txt, constraints.txt and pyproject.toml,
# so changing any of them redoes the steps on an existing venv (pip then moves every distribution
# to its locked version). Usage: bash scripts/setup_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FACELIB_VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.facelib-setup"
INPUTS=(scripts/setup_env.sh scripts/install_detectron2.sh scripts/check_lock.py requirements.txt constraints.txt pyproject.toml)
HASH=$(cat "${INPUTS[@]}" | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then exit 0; fi
if [ -f "$STAMP" ] || [ -f "$VENV/.facelib-setup-v1" ]; then
  echo "setup_env.sh: install steps changed since $VENV was set up; updating it"
fi

"$PY" - <<'PYEOF'
import sys
if sys.version_info[:2] < (3, 10):
    sys.exit(f"facelib needs Python >= 3.10, found {sys.version.split()[0]}")
PYEOF

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade "pip>=23"
# torch first (large, from the local wheel cache where present), then the requirements; every
# distribution, direct or transitive, at its locked version.
"$VPY" -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
"$VPY" -m pip install -q -c constraints.txt -r requirements.txt
bash scripts/install_detectron2.sh "$VPY"
"$VPY" -m pip install -q --no-deps --no-build-isolation -e .
"$VPY" scripts/check_lock.py
"$VPY" -c "import facelib, detectron2.layers, detectron2.modeling; print('facelib set-up OK: detectron2', __import__('detectron2').__version__)"
rm -f "$VENV/.facelib-setup-v1"
echo "$HASH" > "$STAMP"
