#!/usr/bin/env bash
# Set up ./.venv when needed, then run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest -q "$@"
