#!/usr/bin/env python3
"""The audit payload's in-environment driver: what a payload really gets, seen from inside.

Runs as one copy of the `audit` payload in every mode (bare chroot, docker, podman, vm), as the
payload user, with the image's own python3 (stdlib only). In its copy directory (the cwd) it
writes, and never rewrites:

  abi-probe-32.log, abi-probe-64.log   the ABI probes' own output (envs/images/debian12/build/
                                       abiprobe.c: stat(), readdir(), open() through the
                                       32-bit classic ABI and the 64-bit one)
  mountinfo.txt                        /proc/self/mountinfo as the environment sees it
  audit.json                           FORMAT below: which directories were probed on which
                                       filesystem (type, mount and superblock options), the
                                       process's credentials, capabilities, no_new_privs,
                                       seccomp, LSM label, id maps, namespaces, network
                                       interfaces, whether / is writable, cgroups, kernel

The probed filesystems are the ones a payload uses: its run directory (the host's run dir bind
mounted at /execbench/run; the 9p share in a VM), the environment's root (the image: overlay in
a container, the exported rootfs in bare and vm) and /tmp. On each writable one a scratch
directory with a few subdirectories and files is made, probed and removed again: a filesystem
that places new directories in different allocation groups (XFS inode64) then shows its large
inode numbers even when the run dir itself has a small one. Usage:

  python3 audit.py [--max-entries N] [--scratch-dirs N]

Exit status 0 when audit.json was written (what the probes found are results, not errors).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import platform
import shutil
import subprocess
import sys

FORMAT = "execbench-audit-env"
VERSION = 1
PROBES = {"32": "/usr/local/bin/execbench-abiprobe32", "64": "/usr/local/bin/execbench-abiprobe64"}
RUN_MOUNT = "/execbench/run"
# directories of the environment's root: the image's own files, read-only
ROOT_DIRS = ("/", "/etc", "/usr/bin", "/opt/execbench")
STATUS_KEYS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
               "Seccomp", "Seccomp_filters")
NAMESPACES = ("user", "pid", "net", "mnt", "ipc", "uts", "cgroup")


def read(path: str) -> str | None:
    try:
        with open(path, errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountinfo(text: str) -> list[dict]:
    """proc(5) mountinfo lines: id, parent, major:minor, root, mount point, options, optional
    fields, '-', fstype, source, superblock options."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        head, tail = left.split(), right.split()
        if not sep or len(head) < 6 or len(tail) < 2:
            continue
        mounts.append({"dev": head[2], "root": unescape(head[3]), "mount_point": unescape(head[4]),
                       "mount_options": head[5], "fstype": tail[0], "source": unescape(tail[1]),
                       "super_options": tail[2] if len(tail) > 2 else ""})
    return mounts


def filesystem_of(path: str, mounts: list[dict]) -> dict:
    """The mount a path lives on: same device, longest mount point that is a prefix of it."""
    try:
        st = os.stat(path)
    except OSError as err:
        return {"path": path, "error": errno.errorcode.get(err.errno, str(err.errno))}
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    real = os.path.realpath(path)
    best = None
    for mount in mounts:
        point = mount["mount_point"].rstrip("/") or "/"
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if mount["dev"] == dev and inside and (best is None or len(point) >= len(best["mount_point"])):
            best = mount
    found = dict(best) if best else {"dev": dev, "fstype": None, "note": "no mountinfo line for this device"}
    found["path"] = path
    return found


def errname(err: OSError) -> str:
    return errno.errorcode.get(err.errno, str(err.errno))


def make_scratch(base: str, count: int) -> tuple[str | None, str]:
    """base/execbench-abi-<pid>/d<i>/f for i < count: new directories (which an allocator may
    spread over the filesystem) each holding one file. (path, "") or (None, why not)."""
    top = os.path.join(base, f"execbench-abi-{os.getpid()}")
    try:
        os.mkdir(top)
        for i in range(count):
            os.mkdir(os.path.join(top, f"d{i}"))
            with open(os.path.join(top, f"d{i}", "f"), "w") as fh:
                fh.write("execbench ABI probe\n")
    except OSError as err:
        shutil.rmtree(top, ignore_errors=True)
        return None, f"{errname(err)}: cannot write in {base}"
    return top, ""


def run_probe(bits: str, dirs: list[str], max_entries: int) -> tuple[dict, bytes]:
    """Run one probe over `dirs`: (its record, its stdout). The log is written by the caller
    after every probe ran, so each probe sees the same directory contents."""
    binary = PROBES[bits]
    if not os.access(binary, os.X_OK):
        return {"binary": binary, "log": None, "exit_code": None,
                "error": f"{binary} not found (an image without the probe: envs/images/debian12/build/abiprobe.sh)"}, b""
    argv = [binary, "--max-entries", str(max_entries), *dirs]
    proc = subprocess.run(argv, capture_output=True, timeout=60)
    return {"binary": binary, "argv": argv, "log": f"abi-probe-{bits}.log", "exit_code": proc.returncode,
            "stderr": proc.stderr.decode(errors="replace")[-2000:]}, proc.stdout


def process_facts() -> dict:
    status = {}
    for line in (read("/proc/self/status") or "").splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS:
            status[key] = value.strip()
    lsm = {}
    for name, path in (("attr_current", "/proc/self/attr/current"),
                       ("apparmor_current", "/proc/self/attr/apparmor/current")):
        text = read(path)
        lsm[name] = text.strip("\x00\n ") if text is not None else None
    namespaces = {}
    for ns in NAMESPACES:
        try:
            namespaces[ns] = os.readlink(f"/proc/self/ns/{ns}")
        except OSError:
            namespaces[ns] = None
    return {
        "status": status, "lsm": lsm, "namespaces": namespaces,
        "uid_map": [line.split() for line in (read("/proc/self/uid_map") or "").splitlines()],
        "gid_map": [line.split() for line in (read("/proc/self/gid_map") or "").splitlines()],
        "cgroup": (read("/proc/self/cgroup") or "").splitlines(),
        "euid": os.geteuid(), "egid": os.getegid(), "groups": os.getgroups(),
    }


def root_write() -> str:
    """Whether the environment's root is writable: "ok" or the errno of creating a file in /."""
    path = f"/.execbench-audit-{os.getpid()}"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as err:
        return errname(err)
    os.close(fd)
    os.unlink(path)
    return "ok"


def network_interfaces() -> list[str]:
    try:
        return sorted(os.listdir("/sys/class/net"))
    except OSError:
        lines = (read("/proc/net/dev") or "").splitlines()[2:]
        return sorted(line.split(":")[0].strip() for line in lines if ":" in line)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--max-entries", type=int, default=64, help="entries listed per directory")
    args.add_argument("--scratch-dirs", type=int, default=4, help="new directories per writable filesystem")
    opts = args.parse_args(argv)

    mounts_text = read("/proc/self/mountinfo") or ""
    with open("mountinfo.txt", "w") as fh:
        fh.write(mounts_text)
    mounts = mountinfo(mounts_text)
    here = os.getcwd()
    targets = [("run_dir", here, True), ("root", None, False), ("tmp", "/tmp", True)]
    probed, scratch = [], []
    for label, base, writable in targets:
        dirs = list(ROOT_DIRS) if base is None else [base]
        note = ""
        if writable:
            top, note = make_scratch(base, opts.scratch_dirs)
            if top:
                scratch.append(top)
                dirs += [top] + [os.path.join(top, f"d{i}") for i in range(opts.scratch_dirs)]
        dirs = [d for d in dirs if os.path.isdir(d)]
        probed.append({"label": label, "path": base or "/", "dirs": dirs, "scratch_note": note,
                       "filesystem": filesystem_of(base or "/", mounts)})
    all_dirs = [d for entry in probed for d in entry["dirs"]]
    try:
        ran = {bits: run_probe(bits, all_dirs, opts.max_entries) for bits in PROBES}
    finally:
        for top in scratch:
            shutil.rmtree(top, ignore_errors=True)
    probes = {}
    for bits, (record, output) in ran.items():
        probes[bits] = record
        if record["log"]:
            with open(record["log"], "wb") as fh:
                fh.write(output)

    doc = {
        "format": FORMAT, "version": VERSION,
        "kernel": platform.release(), "machine": platform.machine(), "cwd": here,
        "run_mount": RUN_MOUNT, "probed": probed, "probes": probes,
        "overlay_xino_auto": (read("/sys/module/overlay/parameters/xino_auto") or "").strip() or None,
        "process": process_facts(), "root_write": root_write(), "network_interfaces": network_interfaces(),
    }
    with open("audit.json.tmp", "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace("audit.json.tmp", "audit.json")
    print(f"audit: {len(all_dirs)} directories probed on {len(probed)} filesystems -> {here}/audit.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
