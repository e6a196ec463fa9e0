"""Bare-metal mode: the image's own files, entered with chroot on the host.

variant image-rootfs (the control): the image (by digest) is exported once to
<cache>/rootfs/<digest-hex>/ and each run chroots into it as uid 10001, with no
namespaces and no cgroup limits, so the payload uses exactly the binaries and
libraries the containers use and only the execution environment differs.
Mounted for the run and always unmounted afterwards: the rootfs itself
read-only (so no run can change the image's files or leave state for the
next one, as in a container), the run dir at /execbench/run, a fresh /tmp
tmpfs, /proc, /sys (read-only), /dev/{null,zero,random,urandom} and a
/dev/shm tmpfs (what a container also gets).

variant host: host binaries (a site's native install), recorded as such; the
launcher and payload scripts come from the repository's src/execbench/inimage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..paths import INIMAGE
from .base import Availability, CopyResult, ModeError, RunSpec
from .common import (HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RUN_MOUNT, collect,
                     launcher_argv, prepare_run_dir, start_barrier)

DEVICES = ("null", "zero", "random", "urandom")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        points.append(point.encode().decode("unicode_escape"))  # \040 -> space
    return points


def unmount_below(root: Path) -> list[str]:
    """Unmount root and everything under it (deepest first); leftovers of a killed run included."""
    top = str(root.resolve())
    stale = sorted((p for p in _mount_points() if p == top or p.startswith(top + "/")), key=len, reverse=True)
    for point in stale:
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], check=True, capture_output=True)
    return stale


def kill_chrooted(root: Path) -> list[int]:
    """SIGKILL every process whose root directory is this rootfs: what a container's
    teardown does for free. Catches a payload's grandchildren that outlived their copy
    (PDEATHSIG only reaches direct children) and leftovers of a killed harness."""
    top, killed = str(root.resolve()), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == top:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to see
            continue
    return killed


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModeError(f"mount {' '.join(args)}: {proc.stderr.strip()}")


@contextlib.contextmanager
def environment_mounts(root: Path, run_dir: Path):
    """The run's mounts inside the rootfs; removed on the way out, whatever happened."""
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
        yield
    finally:
        kill_chrooted(root)
        unmount_below(root)


@contextlib.contextmanager
def file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.lockf(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(fh, fcntl.LOCK_UN)


def digest_hex(reference: str) -> str:
    if "@sha256:" not in reference:
        raise ModeError(f"bare mode needs an image reference by digest (repo@sha256:...), got {reference!r}")
    return reference.rsplit("@sha256:", 1)[1]


def export_rootfs(reference: str, cache_dir: str | Path) -> tuple[Path, dict]:
    """The image's root filesystem under <cache>/rootfs/<digest-hex>/, exported once.

    Returns (root, meta) where meta (also in <hex>.json next to it) holds the
    image's Config.Env, so bare runs see the same environment variables."""
    hexdigest = digest_hex(reference)
    base = Path(cache_dir).resolve() / "rootfs"
    root, meta_file = base / hexdigest, base / f"{hexdigest}.json"
    with file_lock(base / f"{hexdigest}.lock"):
        if meta_file.exists() and root.is_dir():
            return root, json.loads(meta_file.read_text())
        import docker

        client = docker.from_env(timeout=600)
        try:
            image = client.images.get(reference)
        except docker.errors.ImageNotFound:
            try:
                client.api.pull(reference)
            except docker.errors.APIError as err:
                raise ModeError(f"cannot pull {reference}: {err.explanation or err}") from None
            image = client.images.get(reference)
        partial = base / f"{hexdigest}.partial"
        if partial.exists():  # an export that was interrupted: redo it
            unmount_below(partial)
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        container = client.containers.create(reference, ["true"])
        try:
            tar = subprocess.Popen(["tar", "-x", "-C", str(partial), "--numeric-owner", "-p"],
                                   stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            for chunk in container.export(chunk_size=1 << 20):
                tar.stdin.write(chunk)
            tar.stdin.close()
            if tar.wait() != 0:
                raise ModeError(f"tar extract of {reference}: {tar.stderr.read().decode()[-500:]}")
        finally:
            container.remove(force=True)
        # mount points and the few device paths the environment provides
        for sub in (RUN_MOUNT.lstrip("/"), "proc", "sys", "dev/shm"):
            (partial / sub).mkdir(parents=True, exist_ok=True)
        for name in DEVICES:
            dev = partial / "dev" / name
            if dev.is_symlink() or dev.exists():
                dev.unlink()
            dev.touch()
        for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            if not (partial / "dev" / link).is_symlink():
                (partial / "dev" / link).symlink_to(target)
        (partial / "tmp").chmod(0o1777)
        meta = {
            "reference": reference,
            "digest": f"sha256:{hexdigest}",
            "env": image.attrs.get("Config", {}).get("Env") or [],
            "exported_utc": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
        partial.rename(root)
        meta_file.write_text(json.dumps(meta, indent=1))
        return root, meta


def image_environment(meta: dict, spec: RunSpec, path: str = HOST_PATH) -> dict:
    """The image's own ENV (from its config), the payload user's identity, then the run's env."""
    env = {"PATH": path}
    for item in meta.get("env", []):
        key, _, value = item.partition("=")
        env[key] = value
    env.update(HOME="/home/execbench", USER="execbench", LOGNAME="execbench")
    env.update(spec.env)
    return env


class BareMode:
    kind = "bare"

    def available(self, settings: dict) -> Availability:
        if os.geteuid() != 0:
            return Availability(False, "bare mode needs root (chroot and mounts on the host)")
        if settings.get("variant", "image-rootfs") == "host":
            if shutil.which("python3", path=HOST_PATH) is None:
                return Availability(False, "variant host: no python3 on the host for the launcher")
            return Availability(True, "host binaries (variant host)")
        for tool in ("mount", "umount", "tar"):
            if shutil.which(tool) is None:
                return Availability(False, f"'{tool}' not found on the host")
        return Availability(True)

    def versions(self, settings: dict | None = None) -> dict:
        return {"engine": "chroot (no namespaces, no cgroup limits)", "runtime": f"kernel {os.uname().release}"}

    def factors(self, spec: RunSpec) -> dict:
        per_copy = spec.mode_settings.get("cpuset", "none") == "per-copy"
        return {
            "variant": spec.mode_settings.get("variant", "image-rootfs"),
            "network": "host (no namespace)",
            "cpuset": spec.mode_settings.get("cpuset", "none"),
            "pinning": "sched_setaffinity inside (as taskset)" if per_copy else "none",
            "copies_per_container": "n/a",
            "user": f"{PAYLOAD_UID}:{PAYLOAD_GID}",
            "namespaces": "none",
            "cgroup_limits": "none",
        }

    def _variant_host(self, spec: RunSpec) -> bool:
        return spec.mode_settings.get("variant", "image-rootfs") == "host"

    def run(self, spec: RunSpec, out_dir: Path) -> list[CopyResult]:
        prepare_run_dir(out_dir, PAYLOAD_UID, PAYLOAD_GID)
        pin = spec.mode_settings.get("cpuset", "none") == "per-copy"
        copies = list(range(spec.copies))
        if self._variant_host(spec):
            spec = _host_paths(spec)
            start_at = start_barrier(1, 0.0, base_s=0.5)
            argv = launcher_argv(spec, copies, start_at, pin=pin, python=shutil.which("python3", path=HOST_PATH),
                                 launcher=str(INIMAGE / "execbench_launch.py"), run_dir=str(out_dir.resolve()))
            return self._launch(argv, None, str(out_dir.resolve()), {"PATH": HOST_PATH, **spec.env},
                                spec, out_dir, start_at)
        root, meta = export_rootfs(spec.image_ref, spec.cache_dir)
        with file_lock(root.parent / f"{root.name}.mounts.lock"):
            kill_chrooted(root)  # a killed earlier run may have left processes ...
            unmount_below(root)  # ... and mounts
            with environment_mounts(root, out_dir):
                start_at = start_barrier(1, 0.0, base_s=0.5)  # one process starts all copies: no container wait
                argv = launcher_argv(spec, copies, start_at, pin=pin)
                return self._launch(argv, str(root), RUN_MOUNT, image_environment(meta, spec),
                                    spec, out_dir, start_at)

    def _launch(self, argv, root, cwd, env, spec, out_dir, start_at) -> list[CopyResult]:
        killed = set()
        with open(out_dir / "launcher-0.log", "wb") as log:
            proc = subprocess.Popen(argv, preexec_fn=enter(root, cwd), env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                proc.wait(timeout=max(1.0, start_at + spec.timeout_s + HOST_GRACE_S - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the copies follow (PDEATHSIG)
                proc.wait()
                killed = set(range(spec.copies))
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        return collect(out_dir, spec, {i: proc.returncode for i in range(spec.copies)}, killed)

    def startup_sample(self, spec: RunSpec, argv: list[str]) -> float:
        """fork, chroot, drop to uid 10001, exec argv, wait: timed on the host."""
        if self._variant_host(spec):
            root, env = None, {"PATH": HOST_PATH}
        else:
            root_path, meta = export_rootfs(spec.image_ref, spec.cache_dir)
            root, env = str(root_path), image_environment(meta, spec)
        preexec = enter(root, "/")
        t0 = time.perf_counter()
        status = subprocess.call(argv, preexec_fn=preexec, env=env, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if status != 0:
            raise ModeError(f"startup sample {argv!r} exited {status}")
        return elapsed


def _host_paths(spec: RunSpec) -> RunSpec:
    """variant host: the in-image script paths point at the repository's copy."""
    from dataclasses import replace

    def fix(arg: str) -> str:
        return str(INIMAGE) + arg[len("/opt/execbench"):] if arg.startswith("/opt/execbench/") else arg

    return replace(spec, copy_argv=[[fix(a) for a in argv] for argv in spec.copy_argv])
