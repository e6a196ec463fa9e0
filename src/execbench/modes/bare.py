"""Bare-metal mode: the image's own files, entered with chroot on the host.

variant image-rootfs (the control): the image (by digest) is exported once (execbench.rootfs)
and each run chroots into it as uid 10001, with no namespaces and no cgroup limits, so the
payload uses exactly the binaries and libraries the containers use and only the execution
environment differs. Mounted for the run and always unmounted afterwards: the rootfs itself
read-only (so no run can change the image's files or leave state for the next one, as in a
container), the run dir at /execbench/run, a fresh /tmp tmpfs, /proc, /sys (read-only),
/dev/{null,zero,random,urandom} and a /dev/shm tmpfs (what a container also gets).

variant host: host binaries (a site's native install), recorded as such; the launcher and
payload scripts come from the repository's src/execbench/inimage.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..cpulimit import CpuLimitError, QuotaCgroup
from ..fsutil import file_lock
from ..paths import INIMAGE
from ..rootfs import DEVICES, HOST_PATH, export_rootfs, image_environment, kill_chrooted, unmount_below
from .base import (CPU_LIMIT_SETTING, CPUSET_SETTING, Availability, Mode, ModeContext, ModeError, RunContext, RunOutcome,
                   StartupSample)
from .common import (HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RUN_MOUNT, collect, launcher_argv, prepare_run_dir,
                     start_barrier)


def _load_prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


_PRCTL = _load_prctl()  # loaded in the parent: the forked child only calls it


def enter(root: str | None, cwd: str):
    """preexec_fn: chroot (unless root is None), drop to the payload user, die with the parent.
    Order matters: chroot needs root, and setuid clears PDEATHSIG, so prctl comes last."""

    def preexec():
        if root is not None:
            os.chroot(root)
        os.chdir(cwd)
        os.setgroups([])
        os.setgid(PAYLOAD_GID)
        os.setuid(PAYLOAD_UID)
        if _PRCTL is not None:
            _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return preexec


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModeError(f"mount {' '.join(args)}: {proc.stderr.strip()}")


@contextlib.contextmanager
def environment_mounts(root: Path, run_dir: Path, cgroup: QuotaCgroup | None = None):
    """The run's mounts inside the rootfs; removed on the way out, whatever happened. With a
    quota cgroup, its directory is shown at /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2), as a
    container engine shows a container's own, so the launcher reads its limits and throttling."""
    try:
        _mount("--bind", str(root), str(root))
        _mount("-o", "remount,bind,ro", str(root))
        _mount("--bind", str(run_dir.resolve()), str(root / RUN_MOUNT.lstrip("/")))
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "tmp", str(root / "tmp"))
        _mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(root / "proc"))
        _mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", str(root / "sys"))
        for name in DEVICES:
            _mount("--bind", f"/dev/{name}", str(root / "dev" / name))
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "shm", str(root / "dev" / "shm"))
        if cgroup is not None:
            cgroup_root = root / "sys" / "fs" / "cgroup"
            if cgroup.v2:
                _mount("--bind", str(cgroup.path), str(cgroup_root))
            else:
                _mount("-t", "tmpfs", "-o", "nosuid,nodev,noexec,size=64k,mode=755", "cgroup", str(cgroup_root))
                (cgroup_root / "cpu").mkdir()
                _mount("--bind", str(cgroup.path), str(cgroup_root / "cpu"))
        yield
    finally:
        kill_chrooted(root)
        unmount_below(root)


def host_paths(argv: tuple[str, ...]) -> list[str]:
    """variant host: the in-image script paths point at the repository's copy."""
    prefix = "/opt/execbench/"
    return [str(INIMAGE / arg[len(prefix):]) if arg.startswith(prefix) else arg for arg in argv]


# bare metal takes a quota (the positive control: a known slowdown) or a cpuset; shares only
# weigh competing cgroups and bare metal has none to compete with
BARE_CPU_LIMIT_SETTING = copy.deepcopy(CPU_LIMIT_SETTING)
BARE_CPU_LIMIT_SETTING["properties"]["kind"]["enum"] = ["none", "cpuset", "quota"]
BARE_CPU_LIMIT_SETTING["description"] = (
    "CPU limit through the host's own cgroups, as a batch system would set it: none; cpuset (the "
    "launcher's affinity, as taskset: `cpuset`, or the first `cpus` usable cores); quota (a CFS quota of "
    "`cpus` CPUs per `period_us` on a cgroup made for the run: the study's positive control, a known "
    "slowdown that must be detected). cgroup v1 and v2; throttling read back per copy.")


def _affinity(limit) -> set[int] | None:
    if limit["kind"] != "cpuset":
        return None
    usable = sorted(os.sched_getaffinity(0))
    if limit.get("cpuset"):
        from ..environment import _cpu_list

        return _cpu_list(limit["cpuset"])
    n = limit.get("cpus")
    if not n or n != int(n) or n > len(usable):
        raise ModeError(f"cpu_limit kind cpuset needs `cpuset` or a whole `cpus` <= {len(usable)}, got {n}")
    return set(usable[:int(n)])


def limited(root: str | None, cwd: str, cgroup: QuotaCgroup | None, affinity: set[int] | None):
    """preexec_fn: into the quota cgroup and onto the cpuset (both need the host's view, so
    before the chroot), then enter()."""
    then = enter(root, cwd)

    def preexec():
        if cgroup is not None:
            cgroup.enter()
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        then()

    return preexec


class BareMode(Mode):
    kind = "bare"
    description = "chroot into the image's own root filesystem: no namespaces, no cgroups (the baseline)"
    settings_schema = {
        "variant": {"enum": ["image-rootfs", "host"], "default": "image-rootfs",
                    "description": "image-rootfs (chroot into the image's own files, the control) or host "
                                   "(host binaries, recorded as such)."},
        "cpuset": CPUSET_SETTING,
        "cpu_limit": BARE_CPU_LIMIT_SETTING,
    }

    @staticmethod
    def _host_variant(ctx) -> bool:
        return ctx.settings["variant"] == "host"

    def available(self, ctx: ModeContext) -> Availability:
        if os.geteuid() != 0:
            return Availability(False, "bare mode needs root (chroot and mounts on the host)")
        if self._host_variant(ctx):
            if shutil.which("python3", path=HOST_PATH) is None:
                return Availability(False, "variant host: no python3 on the host for the launcher")
            return Availability(True, "host binaries (variant host)")
        for tool in ("mount", "umount", "tar"):
            if shutil.which(tool) is None:
                return Availability(False, f"'{tool}' not found on the host")
        return Availability(True)

    def needs_image(self, ctx: ModeContext) -> bool:
        return not self._host_variant(ctx)

    def versions(self, ctx: ModeContext) -> dict:
        return {"engine": "chroot (no namespaces, no cgroup limits)", "runtime": f"kernel {os.uname().release}"}

    def factors(self, ctx: RunContext) -> dict:
        per_copy = ctx.settings["cpuset"] == "per-copy"
        return {
            "variant": ctx.settings["variant"],
            "network": "host (no namespace)",
            "cpuset": ctx.settings["cpuset"],
            "pinning": "sched_setaffinity inside (as taskset)" if per_copy else "none",
            "copies_per_container": "n/a",
            "user": f"{PAYLOAD_UID}:{PAYLOAD_GID}",
            "namespaces": "none",
            "cgroup_limits": "none" if ctx.settings["cpu_limit"]["kind"] == "none" else "cpu_limit",
            "cpu_limit": dict(ctx.settings["cpu_limit"]),
        }

    def run(self, ctx: RunContext) -> RunOutcome:
        limit = ctx.settings["cpu_limit"]
        affinity = _affinity(limit)
        if limit["kind"] != "quota":
            return self._run(ctx, None, affinity)
        try:
            with QuotaCgroup(ctx.run_id, limit["cpus"], limit["period_us"]) as cgroup:
                outcome = self._run(ctx, cgroup, affinity)
                read_back = {**cgroup.limits(), "cpu_stat": cgroup.stat()}  # the kernel's, from the host
        except CpuLimitError as err:
            raise ModeError(str(err)) from None
        return RunOutcome(outcome.copies, {**outcome.factors, "cpu_limit_read_back": read_back})

    def _run(self, ctx: RunContext, cgroup: QuotaCgroup | None, affinity: set[int] | None) -> RunOutcome:
        out_dir = ctx.out_dir
        prepare_run_dir(out_dir, PAYLOAD_UID, PAYLOAD_GID)
        pin = ctx.settings["cpuset"] == "per-copy"
        copies = list(range(ctx.copies))
        factors = self.factors(ctx)
        if affinity is not None:
            factors["cpu_limit_applied"] = {"affinity": sorted(affinity)}
        if self._host_variant(ctx):
            start_at = start_barrier(1, 0.0, base_s=0.5)
            argv = launcher_argv(ctx, copies, start_at, pin=pin, python=shutil.which("python3", path=HOST_PATH),
                                 launcher=str(INIMAGE / "execbench_launch.py"), run_dir=str(out_dir.resolve()),
                                 payload_argv=host_paths(ctx.argv))
            results = self._launch(argv, limited(None, str(out_dir.resolve()), cgroup, affinity),
                                   {"PATH": HOST_PATH}, ctx, start_at)
            return RunOutcome(results, factors)
        root, meta = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
        with file_lock(root.parent / f"{root.name}.mounts.lock"):
            kill_chrooted(root)  # a killed earlier run may have left processes ...
            unmount_below(root)  # ... and mounts
            with environment_mounts(root, out_dir, cgroup):
                start_at = start_barrier(1, 0.0, base_s=0.5)  # one process starts all copies: no container wait
                argv = launcher_argv(ctx, copies, start_at, pin=pin)
                results = self._launch(argv, limited(str(root), RUN_MOUNT, cgroup, affinity),
                                       image_environment(meta), ctx, start_at)
        return RunOutcome(results, factors)

    def _launch(self, argv, preexec, env, ctx: RunContext, start_at):
        killed = set()
        with open(ctx.out_dir / "launcher-0.log", "wb") as log:
            proc = subprocess.Popen(argv, preexec_fn=preexec, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                proc.wait(timeout=max(1.0, start_at + ctx.timeout_s + HOST_GRACE_S - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the copies follow (PDEATHSIG)
                proc.wait()
                killed = set(range(ctx.copies))
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        return collect(ctx.out_dir, ctx.copies, {i: proc.returncode for i in range(ctx.copies)}, killed)

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """fork, chroot, drop to uid 10001, exec argv, wait: timed on the host."""
        if self._host_variant(ctx):
            root, env = None, {"PATH": HOST_PATH}
        else:
            root_path, meta = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
            root, env = str(root_path), image_environment(meta)
        preexec = enter(root, "/")
        t0 = time.perf_counter()
        status = subprocess.call(argv, preexec_fn=preexec, env=env, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if status != 0:
            raise ModeError(f"startup sample {argv!r} exited {status}")
        return StartupSample(elapsed)
