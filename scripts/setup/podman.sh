#!/usr/bin/env bash
# Podman configuration for execbench (called by scripts/setup.sh as root; idempotent).
#  - rootful: default rlimits that root here may actually set (the packaged
#    defaults ask for more than CAP_SYS_RESOURCE-less root may, and every run fails);
#  - the local registry marked insecure (plain HTTP on loopback);
#  - rootless: the unprivileged user `execbench` with its subordinate id range and
#    native overlay storage. Its host uid is never 10001: docker mode runs payloads
#    as host uid 10001 (the image's user, no user namespace), and a host account
#    holding that uid could write into docker runs' directories. (Rootless podman
#    maps the image's 10001 to a subordinate id, so its own uid does not matter.)
set -euo pipefail

REGISTRY="${REGISTRY:-127.0.0.1:5000}"
USER_NAME=execbench
CONTAINER_PAYLOAD_UID=10001  # modes/common.py PAYLOAD_UID
ULIMITS='default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
say() { printf 'setup: podman: %s\n' "$*"; }
die() { printf 'setup: podman: ERROR: %s\n' "$*" >&2; exit 1; }

# Write a file only when its content differs; report whether it changed.
changed=0
write_if_different() {  # write_if_different <path> <content>
    if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
        mkdir -p "$(dirname "$1")"
        printf '%s\n' "$2" >"$1"
        changed=1
    fi
}

# --- rootful rlimits ---------------------------------------------------------
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ]; then
    write_if_different "$conf" "# Written by execbench scripts/setup/podman.sh: rlimits root may set here.
[containers]
$ULIMITS"
elif ! grep -q '^[[:space:]]*default_ulimits' "$conf"; then
    if grep -q '^\[containers\]' "$conf"; then
        sed -i "/^\[containers\]/a $ULIMITS" "$conf"
    else
        printf '\n[containers]\n%s\n' "$ULIMITS" >>"$conf"
    fi
    changed=1
fi  # else: the site chose its own default_ulimits; keep them.

# --- local registry over plain HTTP --------------------------------------------
# The default address in execbench.conf; another one (e.g. .ci/run's own registry)
# in a file of its own, so set-ups for different registries never undo each other.
insecure() { printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$1"; }
header="# Written by execbench scripts/setup/podman.sh: the local registry speaks plain HTTP."
write_if_different /etc/containers/registries.conf.d/execbench.conf "$header
$(insecure 127.0.0.1:5000)

$(insecure localhost:5000)"
case "$REGISTRY" in
    127.0.0.1:5000 | localhost:5000) ;;
    *) write_if_different "/etc/containers/registries.conf.d/execbench-${REGISTRY//[^A-Za-z0-9.-]/_}.conf" "$header
$(insecure "$REGISTRY")" ;;
esac

# --- rootless user ----------------------------------------------------------------
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$USER_NAME"  # uid from the normal range, below 10001
    changed=1
    say "created user $USER_NAME (uid $(id -u "$USER_NAME"))"
fi
if [ "$(id -u "$USER_NAME")" = "$CONTAINER_PAYLOAD_UID" ]; then
    # made by an earlier set-up; changing a live account's uid under its podman storage is the
    # admin's call, so say what it means and how to change it
    say "WARNING: user $USER_NAME has uid $CONTAINER_PAYLOAD_UID, the host uid docker payloads run as: that account can write into docker runs' directories (only root can act as it). To change it: stop its podman processes, then 'userdel -r $USER_NAME' and run set-up again."
fi
# useradd on Debian 12 allocates subordinate ids; add a free range if it did not.
for kind in uid gid; do
    file=/etc/sub$kind
    if ! grep -q "^$USER_NAME:" "$file" 2>/dev/null; then
        start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$file" 2>/dev/null || echo 100000)
        usermod "--add-sub${kind}s" "$start-$((start + 65535))" "$USER_NAME"
        changed=1
    fi
done

home=$(getent passwd "$USER_NAME" | cut -d: -f6)
storage_conf="$home/.config/containers/storage.conf"
write_if_different "$storage_conf" '# Written by execbench scripts/setup/podman.sh: native kernel overlay (no fuse) for rootless.
[storage]
driver = "overlay"'
chown -R "$USER_NAME:" "$home/.config"

# --- check it works, once per configuration --------------------------------------
stamp="$home/.config/containers/.execbench-verified"
if [ "$changed" = 0 ] && [ -f "$stamp" ]; then
    say "configured (user $USER_NAME, native overlay)"
    exit 0
fi
# A driver change needs the user's storage reset; it holds nothing of ours yet.
su - "$USER_NAME" -c 'podman system migrate' >/dev/null 2>&1 || true
# (stderr kept apart: podman warns that "/" is not a shared mount, harmless here)
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
driver=$(su - "$USER_NAME" -c "podman info --format '{{.Store.GraphDriverName}}'" 2>"$errors") \
    || die "rootless 'podman info' as $USER_NAME failed: $(cat "$errors")"
[ "$driver" = overlay ] || die "rootless podman uses storage driver '$driver', expected overlay ($storage_conf)"
rootful=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>"$errors") || die "rootful 'podman info' failed: $(cat "$errors")"
touch "$stamp"
chown "$USER_NAME:" "$stamp"
say "configured and verified (rootless as $USER_NAME with overlay, rootful with $rootful)"
