#!/usr/bin/env bash
# One-stop, idempotent set-up of a Debian 12 machine for execbench (run as root).
#
#   bash scripts/setup.sh            # every step
#   bash scripts/setup.sh packages   # step 1 only (.ci/run: dockerd must exist before it starts one)
#
# Each step first checks whether its work is already done, so a rerun takes
# a fraction of a second (0.25 s measured). Steps:
#   1. Debian packages from scripts/setup/debian-packages.txt (only the missing ones)
#   2. the virtualenv .venv with `pip install -e '.[test,bench]'`, and the cluster
#      executor plugins of scripts/setup/cluster-plugins.txt in .venv/cluster-plugins,
#      off the venv's default import path (again only when pyproject.toml or
#      that list changed since the last install)
#   3. a Docker engine: reuse the one that answers, else start `dockerd`
#   4. the local image registry: reuse the one that answers at
#      $EXECBENCH_REGISTRY, else start Debian's `docker-registry` there
#   5. podman: rlimits for rootful runs, the local registry marked insecure,
#      and the unprivileged user `execbench` for rootless runs
#   6. the system user `execbench-vm` the vm mode runs qemu as (never root)
#
# Environment (all optional):
#   DOCKER_HOST                  use this existing engine; setup never starts one then
#   EXECBENCH_REGISTRY           registry address host:port   (default 127.0.0.1:5000)
#   EXECBENCH_REGISTRY_STORAGE   its storage when setup starts it (default .execbench/registry)
#   EXECBENCH_PYTHON             interpreter for the venv (default python3, must be >= 3.11)
#   EXECBENCH_SKIP_PODMAN=1      skip step 5 (sites without podman mode)
#   EXECBENCH_STATE              setup's own state dir (default .execbench): logs,
#                                registry config and pid file (used by the tests)
# Services started here run detached and log to .execbench/logs/; the registry's
# pid is in .execbench/registry-<port>.pid. The started registry's storage defaults
# to .execbench/registry, whatever EXECBENCH_STATE says.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="${EXECBENCH_STATE:-$REPO/.execbench}"
LOGS="$STATE/logs"
REGISTRY="${EXECBENCH_REGISTRY:-127.0.0.1:5000}"
REGISTRY_STORAGE="${EXECBENCH_REGISTRY_STORAGE:-$REPO/.execbench/registry}"
PYTHON="${EXECBENCH_PYTHON:-python3}"
ENGINE_TIMEOUT_S=60
REGISTRY_TIMEOUT_S=30

mkdir -p "$LOGS"
say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# --- 1. Debian packages ---------------------------------------------------
wanted_packages() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$REPO/scripts/setup/debian-packages.txt" | grep -v '^$'
}

package_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
    local missing=() pkg
    for pkg in $(wanted_packages); do
        # A site with another engine (docker-ce, ...) or a remote one keeps it:
        # docker.io would conflict with docker-ce.
        if [ "$pkg" = docker.io ] && { [ -n "${DOCKER_HOST:-}" ] || command -v dockerd >/dev/null; }; then
            continue
        fi
        package_installed "$pkg" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all present"
        return
    fi
    is_root || die "missing Debian packages (${missing[*]}); run this script as root"
    say "Debian packages: installing ${missing[*]}"
    # Third-party sources in /etc/apt/sources.list.d may be unreachable: their
    # failure must not stop us. What matters is that the install below finds
    # its packages, so `update` errors only surface when the install fails.
    apt-get update >"$LOGS/apt-update.log" 2>&1 || say "apt-get update reported errors (see $LOGS/apt-update.log); trying the install anyway"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            -o DPkg::Lock::Timeout=600 "${missing[@]}" >"$LOGS/apt-install.log" 2>&1; then
        tail -n 20 "$LOGS/apt-install.log" >&2
        grep -E '^(Err|E:|W:)' "$LOGS/apt-update.log" >&2 || true
        die "apt-get install failed (logs: $LOGS/apt-update.log, $LOGS/apt-install.log)"
    fi
}

# --- 2. virtualenv ----------------------------------------------------------
# Snakemake imports every executor plugin on its import path at each start, and
# the SLURM plugin then runs `scontrol show config`, which waits 10 s wherever
# the SLURM client tools are installed but no controller answers. So the
# cluster plugins live in .venv/cluster-plugins, which is on the import path only
# when PYTHONPATH names it (scripts/run.sh does so for --profile/--executor).
# The HTCondor plugin only on an access point (its bindings warn elsewhere).
cluster_plugin_lists() {
    echo "$REPO/scripts/setup/cluster-plugins.txt"
    if command -v condor_submit >/dev/null; then echo "$REPO/scripts/setup/cluster-plugins-htcondor.txt"; fi
}

# --no-deps: what the plugins need is pinned in pyproject.toml; `pip check` proves it.
install_cluster_plugins() {
    local venv=$1 lists names
    mapfile -t lists < <(cluster_plugin_lists)
    # An older set-up put them in site-packages, where every start imports them.
    names=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e 's/[=<>!~;].*//' "$REPO"/scripts/setup/cluster-plugins*.txt | grep -v '^$')
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip uninstall -y $names >>"$LOGS/pip-install.log" 2>&1
    rm -rf "$venv/.cluster-plugins.new"
    "$venv/bin/python" -m pip install --no-deps --target "$venv/.cluster-plugins.new" \
        "${lists[@]/#/--requirement=}" >>"$LOGS/pip-install.log" 2>&1 \
        || { tail -n 20 "$LOGS/pip-install.log" >&2; die "pip install of the cluster executor plugins failed"; }
    rm -rf "$venv/cluster-plugins"
    mv "$venv/.cluster-plugins.new" "$venv/cluster-plugins"
    PYTHONPATH="$venv/cluster-plugins" "$venv/bin/python" -m pip check >>"$LOGS/pip-install.log" 2>&1 \
        || { tail -n 20 "$LOGS/pip-install.log" >&2; die "the cluster executor plugins need packages pyproject.toml does not pin"; }
}

setup_venv() {
    local venv="$REPO/.venv" stamp="$REPO/.venv/.execbench-venv.sha256" want lists
    # what the venv is made from: pyproject.toml and the plugin lists that apply here
    mapfile -t lists < <(cluster_plugin_lists)
    want=$(cat "$REPO/pyproject.toml" "${lists[@]}" | sha256sum | cut -d' ' -f1)
    # a .venv linked to another checkout's (the docs-commands test's sandbox) belongs to that
    # checkout: installing this tree into it would point its editable install here
    if [ -L "$venv" ] && [ -x "$venv/bin/python" ]; then
        say "venv: .venv is a link to $(readlink "$venv"): used as it is"
        return
    fi
    # up to date: made from the same pyproject.toml and plugin lists, and its editable install is
    # this checkout (not another tree that installed itself into it)
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && "$venv/bin/python" -c 'import pathlib, sys, execbench
sys.exit(pathlib.Path(execbench.__file__).resolve().parents[2] != pathlib.Path(sys.argv[1]).resolve())' "$REPO" 2>/dev/null; then
        say "venv: up to date (.venv)"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "$PYTHON is older than 3.11; set EXECBENCH_PYTHON to a newer interpreter"
        say "venv: creating .venv with $("$PYTHON" -V 2>&1)"
        "$PYTHON" -m venv "$venv"
    fi
    say "venv: pip install -e '.[test,bench]' and the cluster executor plugins (log: $LOGS/pip-install.log)"
    if ! "$venv/bin/python" -m pip install -e "$REPO[test,bench]" >"$LOGS/pip-install.log" 2>&1; then
        tail -n 20 "$LOGS/pip-install.log" >&2
        die "pip install failed"
    fi
    install_cluster_plugins "$venv"
    echo "$want" >"$stamp"
}

# --- 3. Docker engine -------------------------------------------------------
# Ask the engine's /_ping over whatever DOCKER_HOST names (unix socket or tcp).
engine_ping() {
    local host="${DOCKER_HOST:-unix:///var/run/docker.sock}"
    case "$host" in
        unix://*) curl -fsS -m 5 --unix-socket "${host#unix://}" http://engine/_ping ;;
        tcp://*) curl -fsS -m 5 "http://${host#tcp://}/_ping" ;;
        *) die "DOCKER_HOST=$host: only unix:// and tcp:// are supported here" ;;
    esac >/dev/null 2>&1
}

wait_for() {  # wait_for <seconds> <command...>: poll every 0.5 s until it succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}

setup_engine() {
    if engine_ping; then
        say "docker engine: answering (${DOCKER_HOST:-unix:///var/run/docker.sock})"
        return
    fi
    [ -z "${DOCKER_HOST:-}" ] || die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to let setup start a local dockerd"
    # A dockerd that is still starting answers soon; a second one would fail.
    if ! pgrep -x dockerd >/dev/null; then
        is_root || die "no docker engine answers and only root can start dockerd"
        say "docker engine: starting dockerd (log: $LOGS/dockerd.log)"
        setsid dockerd >>"$LOGS/dockerd.log" 2>&1 </dev/null &
    fi
    wait_for "$ENGINE_TIMEOUT_S" engine_ping \
        || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd did not answer within ${ENGINE_TIMEOUT_S}s"; }
    say "docker engine: ready"
}

# --- 4. local registry ------------------------------------------------------
registry_answers() {
    curl -fsS -m 5 -D - -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null \
        | grep -qi '^docker-distribution-api-version: *registry/2'
}

is_loopback_address() {
    case "${1%:*}" in 127.*|localhost|'[::1]') return 0 ;; *) return 1 ;; esac
}

setup_registry() {
    if registry_answers; then
        say "registry: answering at $REGISTRY"
        return
    fi
    # Security: setup only ever starts a registry on the loopback interface. A
    # registry elsewhere is the site's to run; we just use it.
    is_loopback_address "$REGISTRY" \
        || die "no registry answers at $REGISTRY and setup starts one on loopback only"
    if curl -sS -m 5 -o /dev/null "http://$REGISTRY/" 2>/dev/null; then
        die "something that is not a registry listens at $REGISTRY; free the port or set EXECBENCH_REGISTRY"
    fi
    # No deletes: any local user can reach a loopback port, and the workflow never deletes (runs
    # pull by digest, which no push can change). The storage is root's: no other user writes it.
    mkdir -p "$REGISTRY_STORAGE"
    chmod go-w "$REGISTRY_STORAGE"
    local config="$STATE/registry-${REGISTRY##*:}.yml"
    cat >"$config" <<EOF
# Written by scripts/setup.sh; overwritten on each start.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $(cd "$REGISTRY_STORAGE" && pwd)
  delete:
    enabled: false
http:
  addr: $REGISTRY
EOF
    say "registry: starting docker-registry at $REGISTRY, storage $REGISTRY_STORAGE (log: $LOGS/registry.log)"
    setsid docker-registry serve "$config" >>"$LOGS/registry.log" 2>&1 </dev/null &
    echo $! >"$STATE/registry-${REGISTRY##*:}.pid"  # to stop it: kill "$(cat that file)"
    wait_for "$REGISTRY_TIMEOUT_S" registry_answers \
        || { tail -n 20 "$LOGS/registry.log" >&2; die "registry did not answer at $REGISTRY within ${REGISTRY_TIMEOUT_S}s"; }
    say "registry: ready"
}

# --- 5. podman ----------------------------------------------------------------
setup_podman() {
    if [ "${EXECBENCH_SKIP_PODMAN:-0}" = 1 ]; then
        say "podman: skipped (EXECBENCH_SKIP_PODMAN=1)"
        return
    fi
    is_root || { say "podman: not root, leaving its configuration as it is"; return; }
    REGISTRY="$REGISTRY" bash "$REPO/scripts/setup/podman.sh"
}

# --- 6. the VM mode's qemu user -------------------------------------------------
# qemu never runs as root: the vm mode starts it as this system user (no login, no home),
# a member of /dev/kvm's group where the host has one (modes.<vm>.qemu_user names another).
VM_USER=execbench-vm
setup_vm_user() {
    is_root || { say "vm user: not root, leaving it as it is"; return; }
    if ! id "$VM_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$VM_USER"
        say "vm user: created $VM_USER (uid $(id -u "$VM_USER"))"
    fi
    local kvm_group
    kvm_group=$(stat -c %G /dev/kvm 2>/dev/null || true)
    if [ -n "$kvm_group" ] && [ "$kvm_group" != root ] && ! id -nG "$VM_USER" | tr ' ' '\n' | grep -qx "$kvm_group"; then
        usermod -aG "$kvm_group" "$VM_USER"
        say "vm user: $VM_USER added to group $kvm_group (/dev/kvm)"
    fi
}

case "${1:-all}" in
    all) ;;
    packages) install_packages; exit 0 ;;
    *) die "unknown step '$1' (usage: setup.sh [packages])" ;;
esac
install_packages
setup_venv
setup_engine
setup_registry
setup_podman
setup_vm_user
say "done"
