#!/usr/bin/env bash
# README command 2: all set-up, then the test suite.
#   bash scripts/test.sh [extra pytest arguments, e.g. -m "not docker", -k images]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$REPO/scripts/setup.sh"
export PATH="$REPO/.venv/bin:$PATH"
cd "$REPO"
exec python -m pytest "$@"
