#!/usr/bin/env bash
# Regenerate constraints.txt (the lock file every set-up installs with `pip -c`) from a set-up
# environment whose test suite and quick start passed: every distribution in it at its exact
# version, except facelib itself (installed from the checkout) and sal-detectron2 (installed by
# scripts/install_detectron2.sh, pinned there by SHA-256).
#
# Usage: bash scripts/lock_requirements.sh [VENV]   (default ./.venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
VPY="$VENV/bin/python"
[ -x "$VPY" ] || { echo "lock_requirements.sh: no Python at $VPY; run scripts/setup_env.sh first" >&2; exit 1; }
{
  echo "# Lock file: the exact versions of the environment the test suite and the quick start were"
  echo "# checked with (Python $("$VPY" -c 'import platform; print(platform.python_version())'), Linux x86_64). scripts/setup_env.sh installs"
  echo "# with 'pip -c constraints.txt' and then checks every version (scripts/check_lock.py)."
  echo "# Regenerate with scripts/lock_requirements.sh after changing requirements.txt."
  "$VPY" -m pip freeze --exclude-editable --all | grep -viE '^(facelib|sal-detectron2|pip)==' | LC_ALL=C sort -f
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) pinned distributions"
