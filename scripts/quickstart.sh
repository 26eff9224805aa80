#!/usr/bin/env bash
# README's first command: set up ./.venv when needed, then run the quick start (tools/quickstart.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export MPLBACKEND=Agg
exec .venv/bin/python tools/quickstart.py "$@"
