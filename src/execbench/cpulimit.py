"""A CFS CPU quota on the host's own cgroups: bare mode's `cpu_limit: {kind: quota}`.

The study's positive control: a known slowdown (copies limited to `cpus` CPUs' worth of time per
period) that the statistics must detect. The same kernel mechanism a container's `--cpus` or a
Kubernetes CPU limit uses (kernel docs scheduler/sched-bwc.rst): cgroup v1 `cpu.cfs_quota_us` /
`cpu.cfs_period_us`, cgroup v2 `cpu.max` ("<quota> <period>"). Throttling is counted in the
cgroup's `cpu.stat` (v1 `nr_throttled`, `throttled_time` in ns; v2 `nr_throttled`,
`throttled_usec`).

The cgroup is `<cpu controller>/execbench/<name>`, made for one run and removed after it.
Raises CpuLimitError (an ExecbenchError) when the controller is missing or not writable.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from .errors import ExecbenchError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "execbench"


class CpuLimitError(ExecbenchError):
    """The host cannot put a CPU quota on a run (no writable cgroup cpu controller)."""


def cgroup_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").is_file()


def cpu_controller_dir(root: Path = CGROUP_ROOT) -> Path | None:
    """The writable cgroup directory under which CPU quotas can be set, or None. v2: the unified
    root when it offers the cpu controller; v1: the cpu hierarchy's mount (cpu or cpu,cpuacct)."""
    if cgroup_v2(root):
        controllers = (root / "cgroup.controllers").read_text().split()
        return root if "cpu" in controllers and os.access(root, os.W_OK) else None
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        path = root / name
        if (path / "cpu.cfs_quota_us").is_file() and os.access(path, os.W_OK):
            return path
    return None


def read_cpu_stat(directory: Path) -> dict:
    """{nr_periods, nr_throttled, throttled_s} from a cgroup's cpu.stat (v1 or v2)."""
    stat = dict(line.split(None, 1) for line in (directory / "cpu.stat").read_text().splitlines() if " " in line)
    throttled = (int(stat["throttled_usec"]) / 1e6 if "throttled_usec" in stat
                 else int(stat.get("throttled_time", 0)) / 1e9)
    return {"nr_periods": int(stat.get("nr_periods", 0)), "nr_throttled": int(stat.get("nr_throttled", 0)),
            "throttled_s": throttled}


class QuotaCgroup:
    """A cgroup limited to `cpus` CPUs' worth of time per `period_us` (quota = cpus x period).

    Use as a context manager; `enter` is a preexec_fn that moves the child into it (before any
    chroot: it writes to the host's cgroup file system)."""

    def __init__(self, name: str, cpus: float, period_us: int = 100_000, root: Path = CGROUP_ROOT):
        if cpus <= 0:
            raise CpuLimitError(f"cpu_limit.cpus must be > 0, got {cpus}")
        controller = cpu_controller_dir(root)
        if controller is None:
            raise CpuLimitError(f"no writable cgroup cpu controller under {root} (cgroup "
                                f"{'v2' if cgroup_v2(root) else 'v1'}): cannot apply a CPU quota here")
        self.v2 = cgroup_v2(root)
        self.parent = controller / PARENT
        self.path = self.parent / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.period_us = int(period_us)
        self.quota_us = max(1000, int(round(cpus * self.period_us)))  # the kernel's minimum is 1 ms

    def __enter__(self) -> "QuotaCgroup":
        try:
            if self.v2:  # v2: the cpu controller must be enabled for the children of each level
                self._enable_cpu(self.parent.parent)
                self.parent.mkdir(exist_ok=True)
                self._enable_cpu(self.parent)
            else:
                self.parent.mkdir(exist_ok=True)
            self.path.mkdir(exist_ok=True)
            if self.v2:
                (self.path / "cpu.max").write_text(f"{self.quota_us} {self.period_us}\n")
            else:
                (self.path / "cpu.cfs_period_us").write_text(f"{self.period_us}\n")
                (self.path / "cpu.cfs_quota_us").write_text(f"{self.quota_us}\n")
        except OSError as err:
            self._remove()
            raise CpuLimitError(f"cannot set a CPU quota in {self.path}: {err}") from None
        return self

    @staticmethod
    def _enable_cpu(directory: Path) -> None:
        control = directory / "cgroup.subtree_control"
        if "cpu" not in control.read_text().split():
            control.write_text("+cpu\n")

    def enter(self) -> None:
        """preexec_fn: move this (child) process into the cgroup."""
        (self.path / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def stat(self) -> dict:
        return read_cpu_stat(self.path)

    def limits(self) -> dict:
        """What the kernel holds for this cgroup, read back."""
        if self.v2:
            quota, period = (self.path / "cpu.max").read_text().split()
        else:
            quota = (self.path / "cpu.cfs_quota_us").read_text().strip()
            period = (self.path / "cpu.cfs_period_us").read_text().strip()
        return {"cgroup": str(self.path), "cgroup_version": 2 if self.v2 else 1, "cpu_quota_us": int(quota),
                "cpu_period_us": int(period)}

    def _remove(self) -> None:
        # the processes have exited, but the kernel may need a moment to let go of the cgroup
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():  # a leftover would pin it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
        self._remove()
