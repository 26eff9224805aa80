#!/usr/bin/env bash
# Build an offline wheel folder (the layout of ../shared/wheelhouse/py312) for a machine that has
# torch/torchvision but no network: detectron2 (hash-pinned sal-detectron2), facelib's pure-Python
# dependencies, and pycocotools built for the target Python.
#
# Usage: bash scripts/build_wheelhouse.sh OUT_DIR [PYTHON_VERSION]   (default 3.12)
# Then on the offline machine: bash scripts/install_offline.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: build_wheelhouse.sh OUT_DIR [PYTHON_VERSION]}
PYV=${2:-3.12}
PYTAG=cp${PYV/./}
mkdir -p "$OUT"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
echo "sal-detectron2==0.7.2 --hash=sha256:491af0c7f79bdb2d178e46f6cb16a97c4ac968d45c41ea3f6b6435d59bbee561" > "$TMP/d2.txt"
python3 -m pip download -q --no-deps --require-hashes -r "$TMP/d2.txt" -d "$OUT" \
  --only-binary=:all: --python-version 3.10 --implementation cp --abi none --platform any
# Pure-Python dependencies (no torch: the target machine brings its own). `pip wheel` builds the
# ones PyPI ships only as sdists (fvcore, antlr4) into py3-none-any wheels.
python3 -m pip wheel -q --no-deps -w "$OUT" \
  fvcore==0.1.5.post20221221 iopath==0.1.9 yacs==0.1.8 omegaconf==2.3.1 hydra-core==1.3.8 \
  antlr4-python3-runtime==4.9.3 termcolor==3.3.0 "setuptools<81" portalocker tabulate tqdm
# Compiled dependencies for the target Python (manylinux x86_64).
python3 -m pip download -q --no-deps -d "$OUT" --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 pycocotools==2.0.11 pyyaml
ls "$OUT"
echo "wheelhouse for Python $PYV ($PYTAG) written to $OUT"
