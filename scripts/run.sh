#!/usr/bin/env bash
# README command 1: all set-up, then the main job on the default config.
#   bash scripts/run.sh [extra snakemake arguments, e.g. -n, --configfile FILE]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$REPO/scripts/setup.sh"
# Rules call `python` and `snakemake`: the venv's.
export PATH="$REPO/.venv/bin:$PATH"
cd "$REPO"
exec snakemake --cores all "$@"
