"""Bare-metal mode: the image's own files, entered with chroot on the host.

variant image-rootfs (the control): the image (by digest) is exported once (execbench.rootfs)
and each run chroots into it, with no namespaces and no cgroup limits, so the payload uses
exactly the binaries and libraries the containers use and only the execution environment
differs. Mounted for the run and always unmounted afterwards: the rootfs itself read-only (so no
run can change the image's files or leave state for the next one, as in a container), the run
dir at /execbench/run, a fresh /tmp tmpfs, /proc, /sys (read-only), /dev/{null,zero,random,
urandom} and a /dev/shm tmpfs (what a container also gets).

Confined like a container, minus the namespaces and cgroups being measured (issue 13, R2; the
list and the reasons are in docs/architecture.md, "Security defaults"):
- the payload runs as BARE_UID:BARE_GID (default 61000, `payload_uid`), an id no host account,
  no subordinate id range and no other mode uses, checked before every run (`id_conflict`):
  with uid 10001, the rootless-Podman user's host uid, a payload could reach that user's
  processes through /proc/<pid>/root and so the host's files. 61000 lies above Debian's and
  systemd's regular users (<= 59999 / 60000), below systemd's DynamicUser range (61184-65519),
  and outside the subordinate ranges useradd hands out (>= 100000). The image's files for its
  user 10001 (/home/execbench 0755 and its dotfiles 0644) stay readable, and nothing in the
  read-only image is writable to any uid; /etc/passwd and /etc/group get an entry `execbench`
  for the bare id (bind-mounted copies, as Docker bind-mounts /etc/hosts), so getpwuid, whoami
  and $HOME resolve as in a container;
- no-new-privileges (prctl PR_SET_NO_NEW_PRIVS), as the containers' security_opt;
- nosuid,nodev on every bind and tmpfs (the device binds: nosuid,noexec);
- /proc mounted with hidepid=invisible: the payload sees only its own processes, as in a PID
  namespace, without one (a PID namespace is one of the things measured).

variant host: host binaries (a site's native install), recorded as such; the launcher and
payload scripts come from the repository's src/execbench/inimage. Only the uid and
no-new-privileges apply there: no chroot, so the host's files and processes are as visible as
to any unprivileged user.
"""

from __future__ import annotations

import contextlib
import copy
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ..cpulimit import CpuLimitError, QuotaCgroup
from ..fsutil import file_lock
from ..paths import INIMAGE
from ..rootfs import DEVICES, HOST_PATH, export_rootfs, image_environment, kill_chrooted, unmount_below
from .base import (CPU_LIMIT_SETTING, CPUSET_SETTING, Availability, Mode, ModeContext, ModeError, RunContext, RunOutcome,
                   StartupSample)
from .common import (HOST_GRACE_S, PAYLOAD_UID, RUN_MOUNT, collect, launcher_argv, prepare_run_dir,
                     start_barrier)


def _load_prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


_PRCTL = _load_prctl()  # loaded in the parent: the forked child only calls it
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
BARE_UID = 61000  # default payload uid and gid of bare mode (module docstring: why this one)
SUBID_FILES = ("/etc/subuid", "/etc/subgid")


def enter(root: str | None, cwd: str, uid: int = BARE_UID):
    """preexec_fn: chroot (unless root is None), drop to the payload user (uid = gid), no new
    privileges, die with the parent. Order matters: chroot needs root, and setuid clears
    PDEATHSIG, so prctl comes last. A failed prctl fails the start (no unconfined payload)."""

    def preexec():
        if root is not None:
            os.chroot(root)
        os.chdir(cwd)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if _PRCTL is None or _PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 \
                or _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError("prctl(PR_SET_NO_NEW_PRIVS / PR_SET_PDEATHSIG) failed")

    return preexec


def _in_subid_range(value: int, path: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            start, count = int(parts[1]), int(parts[2])
            if start <= value < start + count:
                return f"{path} gives {parts[0]} {start}-{start + count - 1}"
    return None


def id_conflict(uid: int, others: dict[str, int] | None = None) -> str | None:
    """Why `uid` (used as uid and gid) may not be bare mode's payload id, or None when it is
    free: a host account or group (NSS: local files, LDAP, SSSD ...) has it, a subordinate id
    range (rootless containers) holds it, or another mode's payload uses it (`others`)."""
    for what, value in (others or {}).items():
        if value == uid:
            return f"{what} uses {uid}"
    with contextlib.suppress(KeyError):
        return f"host account {pwd.getpwuid(uid).pw_name!r} has uid {uid}"
    with contextlib.suppress(KeyError):
        return f"host group {grp.getgrgid(uid).gr_name!r} has gid {uid}"
    for path in SUBID_FILES:
        taken = _in_subid_range(uid, path)
        if taken:
            return f"{taken}, which holds {uid}"
    return None


def other_payload_ids() -> dict[str, int]:
    """Payload uids of the other modes, as the host sees them (id_conflict's `others`)."""
    return {"the containers' payload user (docker runs it as host uid 10001; the VM guest too)": PAYLOAD_UID}


def identity_files(root: Path, uid: int, directory: Path) -> dict[str, Path]:
    """Copies of the image's /etc/passwd and /etc/group with the bare id as `execbench` added,
    written into `directory`: {"etc/passwd": path, "etc/group": path} (bind-mounted read-only
    over the image's, so name lookups of the payload's own id work as in a container)."""
    out = {}
    for rel, line in (("etc/passwd", f"execbench:x:{uid}:{uid}:execbench (bare mode):/home/execbench:/bin/sh\n"),
                      ("etc/group", f"execbench:x:{uid}:\n")):
        source = root / rel
        text = source.read_text(errors="replace") if source.is_file() and not source.is_symlink() else ""
        target = directory / rel.replace("/", "-")
        target.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line)
        target.chmod(0o644)
        out[rel] = target
    return out


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModeError(f"mount {' '.join(args)}: {proc.stderr.strip()}")


def _bind(source: str, target: str, options: str) -> None:
    """A bind mount with its own flags (a bind takes flags only through a remount)."""
    _mount("--bind", source, target)
    _mount("-o", f"remount,bind,{options}", target)


PROC_OPTIONS = "nosuid,nodev,noexec,hidepid=invisible"  # own processes only (per mount since Linux 5.8)


@contextlib.contextmanager
def environment_mounts(root: Path, run_dir: Path, identity: dict[str, Path] | None = None,
                       cgroup: QuotaCgroup | None = None):
    """The run's mounts inside the rootfs; removed on the way out, whatever happened. Every one
    is nosuid; all but the device nodes nodev (module docstring). With a quota cgroup, its
    directory is shown read-only at /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2), as a
    container engine shows a container's own, so the launcher reads its limits and throttling."""
    try:
        _bind(str(root), str(root), "ro,nosuid,nodev")
        _bind(str(run_dir.resolve()), str(root / RUN_MOUNT.lstrip("/")), "nosuid,nodev")
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "tmp", str(root / "tmp"))
        _mount("-t", "proc", "-o", PROC_OPTIONS, "proc", str(root / "proc"))
        _mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", str(root / "sys"))
        for name in DEVICES:
            _bind(f"/dev/{name}", str(root / "dev" / name), "nosuid,noexec")
        _mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "shm", str(root / "dev" / "shm"))
        for rel, source in (identity or {}).items():
            if (root / rel).is_file() and not (root / rel).is_symlink():
                _bind(str(source), str(root / rel), "ro,nosuid,nodev,noexec")
        if cgroup is not None:
            cgroup_root = root / "sys" / "fs" / "cgroup"
            if cgroup.v2:
                _bind(str(cgroup.path), str(cgroup_root), "ro,nosuid,nodev,noexec")
            else:
                _mount("-t", "tmpfs", "-o", "nosuid,nodev,noexec,size=64k,mode=755", "cgroup", str(cgroup_root))
                (cgroup_root / "cpu").mkdir()
                _bind(str(cgroup.path), str(cgroup_root / "cpu"), "ro,nosuid,nodev,noexec")
        yield
    finally:
        kill_chrooted(root)
        unmount_below(root)


def kernel_has_private_proc_options(release: str | None = None) -> bool:
    """Linux >= 5.8: each proc mount has its own hidepid (before, the option changed the host's
    /proc too)."""
    numbers = (release or os.uname().release).split("-")[0].split(".")
    try:
        return (int(numbers[0]), int(numbers[1])) >= (5, 8)
    except (ValueError, IndexError):
        return False


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
BARE_CPU_LIMIT_SETTING["properties"]["per_copy"] = {
    "type": "boolean", "default": False,
    "description": "quota: `cpus` is per copy (the run's quota is cpus x copies), so a positive control "
                   "slows every copy count alike (e.g. cpus 0.95: each copy gets 95 % of a core)."}


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


def limited(root: str | None, cwd: str, uid: int, cgroup: QuotaCgroup | None, affinity: set[int] | None):
    """preexec_fn: into the quota cgroup and onto the cpuset (both need the host's view, so
    before the chroot), then enter()."""
    then = enter(root, cwd, uid)

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
        "payload_uid": {"type": "integer", "minimum": 1000, "maximum": 4294967293, "default": BARE_UID,
                        "description": "uid and gid the payload runs as: one no host account, group, subordinate "
                                       "id range or other mode uses (checked before every run; the mode is "
                                       "unavailable, with the reason, otherwise)."},
    }

    @staticmethod
    def _host_variant(ctx) -> bool:
        return ctx.settings["variant"] == "host"

    def available(self, ctx: ModeContext) -> Availability:
        if os.geteuid() != 0:
            return Availability(False, "bare mode needs root (chroot and mounts on the host)")
        conflict = id_conflict(ctx.settings["payload_uid"], other_payload_ids())
        if conflict:
            return Availability(False, f"modes.{ctx.name}.payload_uid {ctx.settings['payload_uid']} is not free: "
                                       f"{conflict}; choose an id no account, group or subordinate range holds")
        if _PRCTL is None:
            return Availability(False, "prctl not available: no-new-privileges cannot be set")
        if not self._host_variant(ctx) and not kernel_has_private_proc_options():
            return Availability(False, f"kernel {os.uname().release} < 5.8: a hidepid proc mount would change "
                                       "the host's /proc too")
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
            "user": f"{ctx.settings['payload_uid']}:{ctx.settings['payload_uid']}",
            "no_new_privileges": True,
            "namespaces": "none",
            "cgroup_limits": "none" if ctx.settings["cpu_limit"]["kind"] == "none" else "cpu_limit",
            "cpu_limit": dict(ctx.settings["cpu_limit"]),
            "confinement": "host variant: uid and no-new-privileges only" if self._host_variant(ctx) else
                           f"chroot, read-only image, proc {PROC_OPTIONS}, nosuid,nodev on every mount "
                           "(device nodes nosuid,noexec)",
        }

    def run(self, ctx: RunContext) -> RunOutcome:
        limit = ctx.settings["cpu_limit"]
        affinity = _affinity(limit)
        if limit["kind"] != "quota":
            return self._run(ctx, None, affinity)
        try:
            cpus = limit["cpus"] * (ctx.copies if limit.get("per_copy") else 1)
            with QuotaCgroup(ctx.run_id, cpus, limit["period_us"]) as cgroup:
                outcome = self._run(ctx, cgroup, affinity)
                read_back = {**cgroup.limits(), "cpu_stat": cgroup.stat()}  # the kernel's, from the host
        except CpuLimitError as err:
            raise ModeError(str(err)) from None
        return RunOutcome(outcome.copies, {**outcome.factors, "cpu_limit_read_back": read_back})

    def _run(self, ctx: RunContext, cgroup: QuotaCgroup | None, affinity: set[int] | None) -> RunOutcome:
        out_dir = ctx.out_dir
        uid = ctx.settings["payload_uid"]
        prepare_run_dir(out_dir, uid, uid)
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
            results = self._launch(argv, limited(None, str(out_dir.resolve()), uid, cgroup, affinity),
                                   {"PATH": HOST_PATH}, ctx, start_at)
            return RunOutcome(results, factors)
        root, meta = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
        with file_lock(root.parent / f"{root.name}.mounts.lock"), \
                tempfile.TemporaryDirectory(prefix="execbench-bare-") as scratch:
            kill_chrooted(root)  # a killed earlier run may have left processes ...
            unmount_below(root)  # ... and mounts
            with environment_mounts(root, out_dir, identity_files(root, uid, Path(scratch)), cgroup):
                start_at = start_barrier(1, 0.0, base_s=0.5)  # one process starts all copies: no container wait
                argv = launcher_argv(ctx, copies, start_at, pin=pin)
                results = self._launch(argv, limited(str(root), RUN_MOUNT, uid, cgroup, affinity),
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
        """fork, chroot, drop to the bare payload id, exec argv, wait: timed on the host."""
        if self._host_variant(ctx):
            root, env = None, {"PATH": HOST_PATH}
        else:
            root_path, meta = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
            root, env = str(root_path), image_environment(meta)
        preexec = enter(root, "/", ctx.settings["payload_uid"])
        t0 = time.perf_counter()
        status = subprocess.call(argv, preexec_fn=preexec, env=env, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if status != 0:
            raise ModeError(f"startup sample {argv!r} exited {status}")
        return StartupSample(elapsed)
