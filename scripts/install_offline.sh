#!/usr/bin/env bash
# Install facelib's dependencies from a wheel folder without any network, on a machine that
# already has torch/torchvision (e.g. an air-gapped GPU box). Two modes:
#   bash scripts/install_offline.sh WHEEL_DIR            install into the current python3's environment
#   bash scripts/install_offline.sh WHEEL_DIR TARGET     install into folder TARGET (no venv needed);
#                                                        then: export PYTHONPATH=TARGET:<repo root>
# detectron2 comes from the cp310-tagged sal-detectron2 wheel; its compiled _C is removed and
# facelib's pure-Python stand-in takes its place (see facelib/d2compat.py).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WHEELS=$(cd "${1:?usage: install_offline.sh WHEEL_DIR [TARGET]}" && pwd)
TARGET=${2:-}
PY=${PYTHON:-python3}
"$PY" -c "import torch, torchvision" || { echo "install_offline.sh: torch/torchvision must already be installed" >&2; exit 1; }
shopt -s nullglob
DEPS=()
for w in "$WHEELS"/*.whl; do
  case "$(basename "$w")" in sal_detectron2-*) ;; *) DEPS+=("$w") ;; esac
done
D2=("$WHEELS"/sal_detectron2-0.7.2-*.whl)
[ ${#D2[@]} -eq 1 ] || { echo "install_offline.sh: expected one sal_detectron2-0.7.2 wheel in $WHEELS" >&2; exit 1; }
if [ -n "$TARGET" ]; then
  mkdir -p "$TARGET"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$TARGET" "${DEPS[@]}"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$TARGET" \
    --python-version 3.10 --implementation cp --abi none --platform any --only-binary=:all: "${D2[0]}"
  rm -f "$TARGET"/detectron2/_C.cpython-*.so
  rm -rf "$TARGET/tools"
  echo "installed into $TARGET; now run: export PYTHONPATH=$TARGET:$REPO"
  PYTHONPATH="$TARGET:$REPO" "$PY" -c "import facelib, detectron2.engine; print('facelib offline install OK, detectron2 from', detectron2.__file__)"
else
  "$PY" -m pip install -q --no-index --no-deps "${DEPS[@]}"
  bash "$REPO/scripts/install_detectron2.sh" "$PY" "$WHEELS"
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e "$REPO"
  "$PY" -c "import facelib, detectron2.engine; print('facelib offline install OK')"
fi
