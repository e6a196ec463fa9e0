"""An image's root filesystem on the host, exported once per digest, and the mounts a chroot
into it needs: the common ground of bare mode (which chroots into it) and the VM mode (which
packs it into a read-only disk).

    <cache>/rootfs/                     mode 0700, root's: no other local user reaches a tree
    <cache>/rootfs/<digest hex>/        the tree (exported with `docker export`, owners kept)
    <cache>/rootfs/<digest hex>.json    {reference, digest, env (the image's Config.Env), exported_utc,
                                         setid_stripped: paths whose setuid/setgid bits were removed}

No exported tree carries a usable setuid/setgid program (issue 13, R4: the image's su, mount,
passwd ... were setuid-root programs on the host, and a site's decade-old image brings
decade-old ones). Two guards, because either alone can be undone by a site's set-up:
- the trees sit in a 0700 directory, so no other user can even reach them (a site that points
  `cache` at a shared place keeps this: the directory is re-checked on every use);
- the setuid/setgid bits (and file capabilities, which `tar` without --xattrs never restores)
  are stripped at export, so a copy or a loosened mode still holds no privileged program.
Stripping changes nothing measured: every mode runs its payload with no-new-privileges (the
containers' security_opt, bare mode's prctl, the VM guest's stage 2), under which the kernel
ignores those bits anyway; file contents (what the modes compare byte for byte) are untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from .errors import ExecbenchError
from .fsutil import atomic_write_json, file_lock

RUN_MOUNT = "/execbench/run"  # where the run's own directory appears in every environment
# where a mode that gives the copies a scratch file system of their own mounts it (the VM's
# `scratch: virtio-disk`); an empty mount point elsewhere
SCRATCH_MOUNT = "/execbench/scratch"
DEVICES = ("null", "zero", "random", "urandom")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RootfsError(ExecbenchError):
    """The image's root filesystem could not be exported or mounted."""


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


def digest_hex(reference: str) -> str:
    """The hex digest of a reference by digest (repo@sha256:<hex>); RootfsError otherwise."""
    if "@sha256:" not in reference:
        raise RootfsError(f"an exported rootfs needs an image reference by digest (repo@sha256:...), got {reference!r}")
    return reference.rsplit("@sha256:", 1)[1]


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner (root) can enter: made 0700, or set to 0700 when ours.
    Raises RootfsError when it belongs to another user (it could hold their trees)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise RootfsError(f"{path} is not a directory of uid {os.geteuid()}: exported image trees must live "
                          "where no other user can reach them")
    if stat.S_IMODE(st.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def strip_setid(root: Path) -> list[str]:
    """Remove setuid/setgid bits and file capabilities below `root` (links never followed).
    Returns the paths (relative, sorted) that had any."""
    stripped = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            changed = False
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
                changed = True
            try:
                os.removexattr(path, "security.capability", follow_symlinks=False)
                changed = True
            except OSError:  # ENODATA: none (the usual case), ENOTSUP: no xattrs here
                pass
            if changed:
                stripped.append(os.path.relpath(path, root))
    return sorted(stripped)


def export_rootfs(reference: str, cache_dir: str | Path) -> tuple[Path, dict]:
    """The image's root filesystem under <cache>/rootfs/<digest-hex>/, exported once, with no
    setuid/setgid program (module docstring).

    Returns (root, meta) where meta (also in <hex>.json next to it) holds the
    image's Config.Env, so bare runs see the same environment variables."""
    hexdigest = digest_hex(reference)
    base = private_dir(Path(cache_dir).resolve() / "rootfs")
    root, meta_file = base / hexdigest, base / f"{hexdigest}.json"
    with file_lock(base / f"{hexdigest}.lock"):
        if meta_file.exists() and root.is_dir():
            meta = json.loads(meta_file.read_text())
            if "setid_stripped" not in meta:  # exported before the bits were stripped
                meta["setid_stripped"] = strip_setid(root)
                atomic_write_json(meta_file, meta)
            return root, meta
        import docker

        client = docker.from_env(timeout=600)
        try:
            image = client.images.get(reference)
        except docker.errors.ImageNotFound:
            try:
                client.api.pull(reference)
            except docker.errors.APIError as err:
                raise RootfsError(f"cannot pull {reference}: {err.explanation or err}") from None
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
                raise RootfsError(f"tar extract of {reference}: {tar.stderr.read().decode()[-500:]}")
        finally:
            container.remove(force=True)
        # mount points and the few device paths the environment provides
        for sub in (RUN_MOUNT.lstrip("/"), SCRATCH_MOUNT.lstrip("/"), "proc", "sys", "dev/shm"):
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
            "setid_stripped": strip_setid(partial),
        }
        partial.rename(root)
        atomic_write_json(meta_file, meta)  # a full disk must not leave a truncated record behind
        return root, meta


def image_environment(meta: dict, path: str = HOST_PATH) -> dict:
    """The environment a container of the image would get: PATH, the image's own ENV (from its
    config, as export_rootfs recorded it), and the payload user's identity."""
    env = {"PATH": path}
    for item in meta.get("env", []):
        key, _, value = item.partition("=")
        env[key] = value
    env.update(HOME="/home/execbench", USER="execbench", LOGNAME="execbench")
    return env
