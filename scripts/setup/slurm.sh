#!/usr/bin/env bash
# A single-node SLURM cluster on loopback, for the tests and for trying the
# slurm profile on one machine (run as root). Idempotent: a second `start`
# finds the daemons up and the node idle and returns at once.
#
#   bash scripts/setup/slurm.sh [start]   install if missing, configure, start, wait for idle
#   bash scripts/setup/slurm.sh stop      stop slurmd, slurmctld and munged started here
#   bash scripts/setup/slurm.sh status    print sinfo, exit 0 only when the node is idle
#
# Not for a real cluster: it writes /etc/slurm/slurm.conf (and refuses to
# replace one it did not write). A site with SLURM keeps its own set-up and
# only uses profiles/slurm (see docs/cluster.md).
#
# Environment (optional):
#   EXECBENCH_STATE          state dir for logs (default <repo>/.execbench)
#   EXECBENCH_SLURM_TIMEOUT  seconds to wait for the node to become idle (default 60)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="${EXECBENCH_STATE:-$REPO/.execbench}"
LOGS="$STATE/logs"
TIMEOUT_S="${EXECBENCH_SLURM_TIMEOUT:-60}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by execbench scripts/setup/slurm.sh"
PACKAGES=(munge slurmctld slurmd slurm-client)
# Debian's packaged paths (slurm-wlm 22.05): state and spool owned by SlurmUser.
CTLD_STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
SLURM_LOGS=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

say() { printf 'slurm-setup: %s\n' "$*"; }
die() { printf 'slurm-setup: ERROR: %s\n' "$*" >&2; exit 1; }

short_host() { hostname -s; }

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_missing() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "${missing[@]}" >"$LOGS/slurm-apt.log" 2>&1 ||
        { apt-get update >>"$LOGS/slurm-apt.log" 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
              -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$LOGS/slurm-apt.log" 2>&1; } ||
        die "apt-get install failed, see $LOGS/slurm-apt.log"
}

# The controller and the node both answer on the short host name, which must
# mean loopback: slurmd registers with the address it resolves for its name.
ensure_hostname_loopback() {
    local host address
    host=$(short_host)
    address=$(getent ahostsv4 "$host" | awk 'NR==1{print $1}')
    if [ -z "$address" ]; then
        say "adding '127.0.0.1 $host' to /etc/hosts"
        printf '127.0.0.1 %s\n' "$host" >>/etc/hosts
    elif [ "$address" != 127.0.0.1 ]; then
        # Not ours to reorder: a machine whose name means another address is
        # not one to run a loopback-only test cluster on without a decision.
        die "'$host' resolves to $address; the loopback cluster needs 127.0.0.1 (put '127.0.0.1 $host' first in /etc/hosts)"
    fi
}

real_memory_mib() {
    # MemTotal minus 5 %: slurmd drains a node whose RealMemory exceeds what it finds.
    awk '/^MemTotal:/ {printf "%d\n", $2 / 1024 * 0.95}' /proc/meminfo
}

write_conf() {
    local host cpus mem tmp
    host=$(short_host)
    cpus=$(nproc)
    mem=$(real_memory_mib)
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to replace it"
    fi
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
$MARKER
# Single-node cluster on loopback only (no other host can reach it).
ClusterName=execbench
SlurmctldHost=$host(127.0.0.1)
# Bind to the configured addresses (loopback), not to every interface.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$CTLD_STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$SLURM_LOGS/slurmctld.log
SlurmdLogFile=$SLURM_LOGS/slurmd.log
# No systemd/cgroup delegation here: track job processes through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No accounting database: sacct cannot see finished jobs, so the profile polls
# squeue. Finished jobs stay visible to squeue for MinJobAge seconds, which
# must exceed 3x the plugin's first status-check delay (it falls back to
# sacct otherwise).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    if [ -e "$CONF" ] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
        return 1  # unchanged
    fi
    install -m 0644 "$tmp" "$CONF"
    rm -f "$tmp"
    say "wrote $CONF (node $host, $cpus CPUs, $mem MiB)"
    return 0
}

start_munge() {
    if pid_alive "$MUNGE_PID"; then return; fi
    if [ ! -s /etc/munge/munge.key ]; then
        say "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
    local i
    for i in $(seq 50); do
        munge -n </dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged did not answer (see /var/log/munge/munged.log)"
}

start_slurm() {
    install -d -o slurm -g slurm -m 0755 "$CTLD_STATE" "$SLURM_LOGS"
    install -d -m 0755 "$SPOOL"
    if ! pid_alive "$CTLD_PID"; then
        say "starting slurmctld"
        /usr/sbin/slurmctld
    fi
    if ! pid_alive "$SLURMD_PID"; then
        say "starting slurmd"
        /usr/sbin/slurmd
    fi
}

node_state() { sinfo -h -N -n "$(short_host)" -o '%T' 2>/dev/null | head -n1; }

wait_idle() {
    local deadline=$((SECONDS + TIMEOUT_S)) state=""
    while [ $SECONDS -lt $deadline ]; do
        state=$(node_state || true)
        case "$state" in
            idle) say "node $(short_host) idle"; return 0 ;;
            # A node restarted after a config change may come back down or
            # drained: resume it (ReturnToService=2 usually does this itself).
            down*|drain*) scontrol update NodeName="$(short_host)" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    die "node $(short_host) not idle after ${TIMEOUT_S}s (state '$state'); see $SLURM_LOGS/"
}

stop_pidfile() {
    local name=$1 pidfile=$2 pid i
    pid_alive "$pidfile" || return 0
    pid=$(cat "$pidfile")
    say "stopping $name (pid $pid)"
    kill "$pid"
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

cmd_start() {
    [ "$(id -u)" -eq 0 ] || die "run as root"
    mkdir -p "$LOGS"
    install_missing
    ensure_hostname_loopback
    if write_conf; then
        # A running controller keeps the old node definition: restart both daemons.
        stop_pidfile slurmd "$SLURMD_PID"
        stop_pidfile slurmctld "$CTLD_PID"
    fi
    start_munge
    start_slurm
    wait_idle
}

cmd_stop() {
    stop_pidfile slurmd "$SLURMD_PID"
    stop_pidfile slurmctld "$CTLD_PID"
    stop_pidfile munged "$MUNGE_PID"
}

cmd_status() {
    sinfo || true
    [ "$(node_state || true)" = idle ]
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
