#!/usr/bin/env python3
"""Start a payload's copies inside the execution environment and time them there.

Runs in every mode (bare chroot, docker, podman, vm) with the image's own
python3 (>= 3.11, stdlib only). The host never times the payload: container
start-up and tear-down would leak into the numbers. Usage:

  python3 execbench_launch.py --run-dir /execbench/run --copies N [--copy i]
      --start-at EPOCH --timeout S [--pin per-copy] [--scratch DIR] -- ARGV...

Every copy starts at --start-at (a barrier, so copies overlap even when their
containers were started one after the other), in RUN_DIR/copy<i>/, with
stdout/stderr in stdout.log/stderr.log there, and leaves copy<i>/launch.json.
A literal "{copy}" in ARGV is replaced by the copy index. With --scratch (a mode that gives
the copies a scratch file system of their own: the VM's virtio disk), copy i also gets
DIR/copy<i>/, made here, named in its environment as EXECBENCH_SCRATCH: an I/O payload puts
its data there and its logs in its copy dir as always.

launch.json also holds `environment`: what the copy's process tree sees of its environment,
taken here, inside it (environment_fingerprint; the host compares it with bare metal), and
`scratch_fs` in it is the file system a copy's I/O lands on (filesystem_of: the scratch dir, else
the run dir), `cpu_throttling`: the CFS throttling counters of the environment's own cgroup over the run
(cgroup_cpu_stat), where the environment has a cgroup of its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

LAUNCH_FILE = "launch.json"


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="microseconds")


def _load_prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:  # no ctypes in this image: copies just cannot follow the launcher
        return None


_PRCTL = _load_prctl()  # loaded before any fork: the child only makes the call
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Kill the copy if the launcher dies (e.g. the harness was killed): no orphans."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def cgroup_cpu_s() -> float | None:
    """CPU seconds used so far by this environment's own cgroup (all its processes,
    engine helpers included), or None where there is none of its own: bare chroot
    (no cgroup file system inside) or a process in the hierarchy's root (rootless
    podman on cgroup v1), where the number would be the whole machine's."""
    try:
        with open("/proc/self/cgroup") as fh:
            paths = [line.rstrip("\n").split(":", 2) for line in fh]
    except OSError:
        return None
    for _, controllers, path in paths:
        if controllers == "" and path != "/":  # cgroup v2
            try:
                with open("/sys/fs/cgroup/cpu.stat") as fh:
                    for line in fh:
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
            except OSError:
                return None
        if "cpuacct" in controllers.split(",") and path != "/":  # cgroup v1
            for name in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
                try:
                    with open(f"/sys/fs/cgroup/{name}/cpuacct.usage") as fh:
                        return int(fh.read()) / 1e9
                except OSError:
                    continue
    return None


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _own_cgroup_dirs() -> dict[str, str]:
    """Where this process's own cgroup is seen: {"v2": dir} or {controller: dir} on v1. The full
    hierarchy's path when it is mounted (a host), else the mount's root (a container: the engine
    mounts the container's own cgroup there). Empty in a bare chroot (no cgroup file system
    mounted) and when the process sits in the hierarchy's root (rootless podman on cgroup v1:
    the numbers would be the whole machine's)."""
    try:
        with open("/proc/self/cgroup") as fh:
            entries = [line.rstrip("\n").split(":", 2) for line in fh]
    except OSError:
        return {}

    def where(mount: str, path: str) -> str | None:
        for candidate in (f"{mount}{path}", mount):
            if os.path.exists(f"{candidate}/cgroup.procs"):
                return candidate.rstrip("/")
        return None

    dirs: dict[str, str] = {}
    for _, controllers, path in entries:
        if path == "/":
            continue
        if controllers == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            found = where("/sys/fs/cgroup", path)
            if found:
                dirs["v2"] = found
        for name in controllers.split(","):
            if name in ("cpu", "cpuacct", "cpuset", "memory", "pids"):
                for mount in (name, "cpu,cpuacct", "cpuacct,cpu"):
                    found = where(f"/sys/fs/cgroup/{mount}", path)
                    if found:
                        dirs[name] = found
                        break
    return dirs


def cgroup_cpu_stat() -> dict | None:
    """CFS bandwidth counters of this environment's own cgroup: {nr_periods, nr_throttled,
    throttled_s}, or None where it has none (see _own_cgroup_dirs). Kernel docs:
    scheduler/sched-bwc.rst (v1 cpu.stat throttled_time in ns; v2 cpu.stat throttled_usec)."""
    dirs = _own_cgroup_dirs()
    path = f"{dirs['v2']}/cpu.stat" if "v2" in dirs else f"{dirs['cpu']}/cpu.stat" if "cpu" in dirs else None
    text = _read(path) if path else None
    if text is None:
        return None
    stat = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
    if "throttled_usec" in stat:
        throttled = int(stat["throttled_usec"]) / 1e6
    elif "throttled_time" in stat:
        throttled = int(stat["throttled_time"]) / 1e9
    else:
        return None
    return {"nr_periods": int(stat.get("nr_periods", 0)), "nr_throttled": int(stat.get("nr_throttled", 0)),
            "throttled_s": throttled}


def cgroup_limits() -> dict:
    """The limits this environment's own cgroup puts on it, as seen from inside (None = none seen:
    unlimited, or no cgroup of its own). cpu_quota_us -1 = no quota (v1's spelling, also used
    for v2's "max"); memory_limit_bytes None = unlimited."""
    dirs = _own_cgroup_dirs()
    out = {"version": 2 if "v2" in dirs else 1 if dirs else None, "cpu_quota_us": None, "cpu_period_us": None,
           "cpu_weight_or_shares": None, "cpuset_cpus": None, "memory_limit_bytes": None, "pids_max": None}
    if "v2" in dirs:
        root = dirs["v2"]
        cpu_max = (_read(f"{root}/cpu.max") or "").split()
        if len(cpu_max) == 2:
            out["cpu_quota_us"] = -1 if cpu_max[0] == "max" else _int(cpu_max[0])
            out["cpu_period_us"] = _int(cpu_max[1])
        out["cpu_weight_or_shares"] = _int(_read(f"{root}/cpu.weight"))
        out["cpuset_cpus"] = _read(f"{root}/cpuset.cpus.effective")
        memory = _read(f"{root}/memory.max")
        out["memory_limit_bytes"] = None if memory in (None, "max") else _int(memory)
        pids = _read(f"{root}/pids.max")
        out["pids_max"] = None if pids in (None, "max") else _int(pids)
        return out
    if "cpu" in dirs:
        out["cpu_quota_us"] = _int(_read(f"{dirs['cpu']}/cpu.cfs_quota_us"))
        out["cpu_period_us"] = _int(_read(f"{dirs['cpu']}/cpu.cfs_period_us"))
        out["cpu_weight_or_shares"] = _int(_read(f"{dirs['cpu']}/cpu.shares"))
    if "cpuset" in dirs:
        out["cpuset_cpus"] = _read(f"{dirs['cpuset']}/cpuset.cpus")
    if "memory" in dirs:
        memory = _int(_read(f"{dirs['memory']}/memory.limit_in_bytes"))
        # v1 says "unlimited" with a page-rounded LONG_MAX
        out["memory_limit_bytes"] = memory if memory is not None and memory < 2 ** 62 else None
    if "pids" in dirs:
        pids = _read(f"{dirs['pids']}/pids.max")
        out["pids_max"] = None if pids in (None, "max") else _int(pids)
    return out


# statfs(2) f_type values (linux/magic.h) of the file systems a payload's directory may be on
FS_MAGIC = {
    0xEF53: "ext2/ext3/ext4", 0x01021997: "v9fs", 0x794C7630: "overlayfs", 0x01021994: "tmpfs",
    0x58465342: "xfs", 0x9123683E: "btrfs", 0x6969: "nfs", 0x65735546: "fuse", 0x73717368: "squashfs",
    0x2FC12FC1: "zfs", 0x00C36400: "ceph", 0x0BD00BD0: "lustre", 0x47504653: "gpfs", 0x6A656A63: "virtiofs",
    0x858458F6: "ramfs",
}


def _statfs_type(path: str) -> int | None:
    """statfs(2)'s f_type of `path` (the first field of struct statfs, a C long on Linux), or None."""
    try:
        import ctypes
        import struct

        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(256)  # sizeof(struct statfs) is 120 on x86_64
        if libc.statfs(os.fsencode(path), buf) != 0:
            return None
        return struct.unpack_from("l", buf.raw)[0] & 0xFFFFFFFF
    except Exception:  # no ctypes in this image
        return None


def filesystem_of(path: str) -> dict:
    """The file system holding `path`, as this process sees it: {directory, fstype, source,
    mount_point, options} from the longest matching mount in /proc/self/mounts (octal escapes
    undone, fstab(5)), the kernel's own statfs(2) f_type (`statfs_magic`, and its name from
    linux/magic.h in `statfs_type`: ext2/ext3/ext4 for an ext4 disk),
    and st_dev as `device` "major:minor". None where unreadable. The mount type is the one that
    tells a 9p share: over 9P2000.L the guest's statfs returns the host's f_type (v9fs passes
    the server's on), so a share on the host's ext4 reads as ext4 there."""
    real = os.path.realpath(path)
    out = {"directory": real, "fstype": None, "source": None, "mount_point": None, "options": None,
           "statfs_magic": None, "statfs_type": None, "device": None}
    try:
        with open("/proc/self/mounts") as fh:
            mounts = [line.split() for line in fh]
    except OSError:
        mounts = []
    for fields in mounts:
        if len(fields) < 4:
            continue
        point = fields[1].encode().decode("unicode_escape")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(out["mount_point"] or ""):
            out.update(mount_point=point, fstype=fields[2], source=fields[0].encode().decode("unicode_escape"),
                       options=fields[3])
    magic = _statfs_type(real)
    if magic is not None:
        out["statfs_magic"] = f"0x{magic:x}"
        out["statfs_type"] = FS_MAGIC.get(magic, "unknown")
    try:
        st = os.stat(real)
        out["device"] = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    except OSError:
        pass
    return out


def clock_gettime_ns(batches: int = 5, calls: int = 5000) -> float:
    """Nanoseconds one clock_gettime(CLOCK_MONOTONIC) costs from Python: the median over batches
    of (loop calling it - the same loop calling a no-op builtin) / calls. The interpreter's own
    cost cancels, so a vDSO clock reads tens of ns and a clock that falls back to the syscall
    (a lost TSC clocksource, madgraph5/madgraph4gpu#116) reads hundreds."""
    clock, noop, ref = time.clock_gettime_ns, int, time.CLOCK_MONOTONIC
    per_call = []
    for _ in range(batches):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            clock(ref)
        t1 = time.perf_counter_ns()
        for _ in range(calls):
            noop(ref)
        t2 = time.perf_counter_ns()
        per_call.append(max(0.0, ((t1 - t0) - (t2 - t1)) / calls))
    return sorted(per_call)[len(per_call) // 2]


def environment_fingerprint(work_dir: str = ".") -> dict:
    """What a process started here sees of its environment (issue 18): seccomp and the
    speculative-store-bypass mitigation it got (/proc/self/status; a seccomp filter turned SSB
    mitigation on before Linux 5.16, opencontainers/runc#2430), cgroup limits, /dev/shm size,
    rlimits, transparent huge pages, NUMA policy, visible CPUs, clocksource and the cost of
    one clock_gettime, the vsyscall page, the kernel and the CPU flags (the host turns them
    into an ISA level with execbench.isa), and `scratch_fs`: the file system of `work_dir`, where
    the copies' I/O goes (filesystem_of). Values are None where the environment does not show
    them (a bare chroot has no cgroup file system)."""
    status = {}
    for line in (_read("/proc/self/status") or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            status[key] = value.strip()
    try:
        shm = os.statvfs("/dev/shm")
        shm_bytes = shm.f_blocks * shm.f_frsize
    except OSError:
        shm_bytes = None
    limits = {}
    for name in ("NOFILE", "NPROC", "STACK", "MEMLOCK"):
        soft, hard = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))
        limits[name.lower()] = [None if soft == resource.RLIM_INFINITY else soft,
                                None if hard == resource.RLIM_INFINITY else hard]
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    vsyscall = None
    for line in (_read("/proc/self/maps") or "").splitlines():
        if line.endswith("[vsyscall]"):
            vsyscall = line.split()[1]  # r-xp: emulate, --xp: xonly (the default since 5.x)
    numa = (_read("/proc/self/numa_maps") or "").split("\n", 1)[0].split()
    flags = []
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            flags = sorted(set(value.split()))
            break
    vulnerabilities = {}
    try:
        for name in sorted(os.listdir("/sys/devices/system/cpu/vulnerabilities")):
            vulnerabilities[name] = _read(f"/sys/devices/system/cpu/vulnerabilities/{name}")
    except OSError:
        pass
    return {
        "seccomp": _int(status.get("Seccomp")),  # 0 none, 1 strict, 2 filter
        "seccomp_filters": _int(status.get("Seccomp_filters")),
        "speculation_store_bypass": status.get("Speculation_Store_Bypass"),
        "no_new_privs": _int(status.get("NoNewPrivs")),
        "cgroup": cgroup_limits(),
        "shm_bytes": shm_bytes,
        "rlimits": limits,
        "thp": thp[thp.index("[") + 1:thp.index("]")] if thp and "[" in thp else thp,
        "numa_policy": numa[1] if len(numa) > 1 else None,
        "mems_allowed": status.get("Mems_allowed_list"),
        "visible_cpus": sorted(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "clock_gettime_ns": round(clock_gettime_ns(), 1),
        "vsyscall": vsyscall,
        "kernel": os.uname().release,
        "vulnerabilities": vulnerabilities or None,
        "cpu_flags": flags,
        "scratch_fs": filesystem_of(work_dir),
    }


class Copy:
    def __init__(self, index: int, argv: list[str], run_dir: str, cpu: int | None, scratch: str | None = None):
        self.index = index
        self.argv = [arg.replace("{copy}", str(index)) for arg in argv]
        self.dir = os.path.join(run_dir, f"copy{index}")
        self.scratch = os.path.join(scratch, f"copy{index}") if scratch else None
        self.cpu = cpu
        self.proc: subprocess.Popen | None = None
        self.result: dict = {"copy": index, "argv": self.argv, "cpu": cpu}
        self.done = threading.Event()

    def _preexec(self) -> None:
        _die_with_parent()
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})

    def start(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        env = None
        if self.scratch:
            os.makedirs(self.scratch, exist_ok=True)
            env = dict(os.environ, EXECBENCH_SCRATCH=self.scratch)
            self.result["scratch_dir"] = self.scratch
        self.stdout = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.t0_wall = time.time()
        self.t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self.stdout,
                stderr=self.stderr,
                start_new_session=True,  # its own process group: a timeout kills all of it
                preexec_fn=self._preexec,
            )
        except OSError as err:  # e.g. the payload binary is missing in this image
            self.stderr.write(f"execbench_launch: cannot start {self.argv!r}: {err}\n".encode())
            self._finish(127, None)
            return
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self) -> None:
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self._finish(self.proc.returncode, usage)

    def _finish(self, exit_code: int, usage) -> None:
        t1 = time.monotonic()
        self.result.update(
            exit_code=exit_code,
            wall_s=t1 - self.t0,
            cpu_user_s=usage.ru_utime if usage else None,
            cpu_sys_s=usage.ru_stime if usage else None,
            max_rss_kb=usage.ru_maxrss if usage else None,
            started_utc=_utc(self.t0_wall),
            ended_utc=_utc(self.t0_wall + (t1 - self.t0)),
        )
        self.stdout.close()
        self.stderr.close()
        self.done.set()

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--copies", type=int, required=True, help="copies in the whole run")
    parser.add_argument("--copy", type=int, action="append", help="start only this copy (repeatable)")
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds (barrier)")
    parser.add_argument("--timeout", type=float, required=True, help="seconds per copy")
    parser.add_argument("--pin", choices=("none", "per-copy"), default="none")
    parser.add_argument("--scratch", help="a scratch file system for the copies' data: copy i gets "
                                          "SCRATCH/copy<i>/ as EXECBENCH_SCRATCH")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    opts = parser.parse_args(args)
    argv = opts.argv[1:] if opts.argv[:1] == ["--"] else opts.argv
    if not argv:
        parser.error("no payload argv after --")
    indices = opts.copy if opts.copy else list(range(opts.copies))
    cpus = sorted(os.sched_getaffinity(0))
    copies = [
        Copy(i, argv, opts.run_dir, cpus[i % len(cpus)] if opts.pin == "per-copy" else None, opts.scratch)
        for i in indices
    ]

    try:
        environment = environment_fingerprint(opts.scratch or opts.run_dir)
    except Exception as err:  # a fingerprint must never cost the run
        environment = {"error": f"{type(err).__name__}: {err}"}
    throttling_start = cgroup_cpu_stat()
    cgroup_start = cgroup_cpu_s()
    lag = opts.start_at - time.time()
    if lag > 0:
        time.sleep(lag)
    for c in copies:
        c.start()
        # how late this copy started against the barrier (0 without one)
        c.result["start_lag_s"] = c.t0_wall - opts.start_at if opts.start_at else 0.0

    deadline = time.monotonic() + opts.timeout
    for c in copies:
        if not c.done.wait(max(0.0, deadline - time.monotonic())):
            c.result["timed_out"] = True
            c.kill()
    for c in copies:
        c.done.wait()
    cgroup_end = cgroup_cpu_s()
    throttling_end = cgroup_cpu_stat()
    throttling = None
    if throttling_start is not None and throttling_end is not None:
        throttling = {k: throttling_end[k] - throttling_start[k] for k in throttling_end}
    for c in copies:
        c.result.setdefault("timed_out", False)
        # the whole environment's (shared by the copies started here), not this copy's
        c.result["env_cgroup_cpu_s"] = (cgroup_end - cgroup_start
                                        if cgroup_start is not None and cgroup_end is not None else None)
        c.result["cpu_throttling"] = throttling  # the environment's, like env_cgroup_cpu_s
        # the copy's own view: pinned to one core, it sees that one
        c.result["environment"] = dict(environment, **({"visible_cpus": [c.cpu]} if c.cpu is not None else {}))
        path = os.path.join(c.dir, LAUNCH_FILE)
        with open(path + ".tmp", "w") as fh:
            json.dump(c.result, fh, indent=1)
        os.replace(path + ".tmp", path)
    ok = all(c.result["exit_code"] == 0 and not c.result["timed_out"] for c in copies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
