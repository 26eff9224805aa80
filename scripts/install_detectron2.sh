#!/usr/bin/env bash
# Install detectron2 into the given Python environment without compiling anything:
# the hash-pinned PyPI wheel sal-detectron2==0.7.2 (upstream detectron2 a59f0563, tagged cp310)
# is unpacked with --target into a folder that a .pth file puts on sys.path. Its compiled
# _C (built for CPython 3.10) and its stray top-level tools/ package are removed; facelib then
# provides a pure-Python stand-in for _C (facelib/d2compat.py) used only when no compiled _C loads.
#
# Usage: bash scripts/install_detectron2.sh PYTHON [WHEEL_DIR]
#   WHEEL_DIR: install from this folder only (no network), e.g. ../shared/wheelhouse/py312.
# Skipped when an importable detectron2 (e.g. built from source) is already present.
set -euo pipefail
PY=${1:?usage: install_detectron2.sh PYTHON [WHEEL_DIR]}
WHEELS=${2:-}
SHA256=491af0c7f79bdb2d178e46f6cb16a97c4ac968d45c41ea3f6b6435d59bbee561
if "$PY" -c "import detectron2, os, sys; sys.exit(0 if 'site-packages' in detectron2.__file__ and not os.path.exists(os.path.join(os.path.dirname(detectron2.__file__), '..', '.facelib-d2')) else 1)" 2>/dev/null; then
  echo "detectron2 already installed ($("$PY" -c 'import detectron2; print(detectron2.__file__)')); keeping it"
  exit 0
fi
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
TARGET="$SITE/../facelib-detectron2"
TARGET=$("$PY" -c "import os,sys; print(os.path.abspath(sys.argv[1]))" "$TARGET")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "sal-detectron2==0.7.2 --hash=sha256:$SHA256" > "$TMP/req.txt"
SRC=()
if [ -n "$WHEELS" ]; then SRC=(--no-index --find-links "$WHEELS"); fi
rm -rf "$TARGET"
"$PY" -m pip install -q "${SRC[@]}" --require-hashes -r "$TMP/req.txt" --target "$TARGET" --no-deps \
  --only-binary=:all: --python-version 3.10 --implementation cp --abi none --platform any
rm -f "$TARGET"/detectron2/_C.cpython-310-*.so
rm -rf "$TARGET/tools" "$TARGET/bin"
touch "$TARGET/.facelib-d2"
echo "$TARGET" > "$SITE/facelib-detectron2.pth"
echo "detectron2 (pure Python) installed in $TARGET"
