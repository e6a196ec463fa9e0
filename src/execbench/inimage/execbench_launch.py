#!/usr/bin/env python3
"""Start a payload's copies inside the execution environment and time them there.

Runs in every mode (bare chroot, docker, podman, vm) with the image's own
python3 (>= 3.11, stdlib only). The host never times the payload: container
start-up and tear-down would leak into the numbers. Usage:

  python3 execbench_launch.py --run-dir /execbench/run --copies N [--copy i]
      --start-at EPOCH --timeout S [--pin per-copy] -- ARGV...

Every copy starts at --start-at (a barrier, so copies overlap even when their
containers were started one after the other), in RUN_DIR/copy<i>/, with
stdout/stderr in stdout.log/stderr.log there, and leaves copy<i>/launch.json.
A literal "{copy}" in ARGV is replaced by the copy index.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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


class Copy:
    def __init__(self, index: int, argv: list[str], run_dir: str, cpu: int | None):
        self.index = index
        self.argv = [arg.replace("{copy}", str(index)) for arg in argv]
        self.dir = os.path.join(run_dir, f"copy{index}")
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
        self.stdout = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.t0_wall = time.time()
        self.t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.dir,
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
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    opts = parser.parse_args(args)
    argv = opts.argv[1:] if opts.argv[:1] == ["--"] else opts.argv
    if not argv:
        parser.error("no payload argv after --")
    indices = opts.copy if opts.copy else list(range(opts.copies))
    cpus = sorted(os.sched_getaffinity(0))
    copies = [
        Copy(i, argv, opts.run_dir, cpus[i % len(cpus)] if opts.pin == "per-copy" else None)
        for i in indices
    ]

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
    for c in copies:
        c.result.setdefault("timed_out", False)
        # the whole environment's (shared by the copies started here), not this copy's
        c.result["env_cgroup_cpu_s"] = (cgroup_end - cgroup_start
                                        if cgroup_start is not None and cgroup_end is not None else None)
        path = os.path.join(c.dir, LAUNCH_FILE)
        with open(path + ".tmp", "w") as fh:
            json.dump(c.result, fh, indent=1)
        os.replace(path + ".tmp", path)
    ok = all(c.result["exit_code"] == 0 and not c.result["timed_out"] for c in copies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
