#!/usr/bin/env bash
# README command 1: all set-up, then the main job on the default config.
#   bash scripts/run.sh [extra snakemake arguments, e.g. -n, --configfile FILE]
#
# With --profile or --executor (-e) among the arguments, or SNAKEMAKE_PROFILE
# set, the cluster executor plugins (.venv/cluster-plugins, see
# scripts/setup/cluster-plugins.txt) are put on PYTHONPATH; a local run does
# without them, so it never waits for a SLURM controller that is not there.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$REPO/scripts/setup.sh"

asks_for_executor_or_profile() {
    [ -n "${SNAKEMAKE_PROFILE:-}" ] && return 0
    local arg
    for arg in "$@"; do
        case "$arg" in
            --profile | --profile=* | --executor | --executor=* | -e | -e?*) return 0 ;;
        esac
    done
    return 1
}

if asks_for_executor_or_profile "$@"; then
    export PYTHONPATH="$REPO/.venv/cluster-plugins${PYTHONPATH:+:$PYTHONPATH}"
fi
# Rules call `python` and `snakemake`: the venv's.
export PATH="$REPO/.venv/bin:$PATH"
cd "$REPO"

# Snakemake reads config files itself, before any execbench code runs, with no bound on their
# size, YAML aliases or nesting (a 5000-deep list ends in a RecursionError traceback): read
# each with execbench's bounded reader first; a bad one stops here with the reason.
config_files=(config/config.yaml)
collecting=0
for arg in "$@"; do
    case "$arg" in
        --configfile | --configfiles) collecting=1; continue ;;
        --configfile=* | --configfiles=*) config_files+=("${arg#*=}"); collecting=0; continue ;;
        -*) collecting=0 ;;
        *) [ "$collecting" = 1 ] && config_files+=("$arg") ;;
    esac
done
python -m execbench check-config "${config_files[@]}" || exit 2

exec snakemake --cores all "$@"
