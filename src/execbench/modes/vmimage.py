"""The VM mode's boot artefacts, built once and cached under <cache>/vm/.

- kernel/: a Debian kernel package (fetched with `apt-get download`, unpacked with
  `dpkg -x`), recorded by package name, version and sha256. We take the generic
  `linux-image-amd64` flavour: the `cloud-amd64` flavour is built without 9p
  (`# CONFIG_NET_9P is not set`), and the run dir comes back over virtio-9p.
- initramfs/: a tiny gzip'd cpio of our own: busybox-static, the few kernel modules
  the guest needs (virtio-pci/blk, ext4, 9p), and /init (GUEST_INIT below), which
  either prints the ready line and powers off (readiness check) or mounts the image's
  root filesystem read-only and runs the launcher in it as uid 10001.
- disk/: the image's root filesystem (exported by digest exactly as bare mode does,
  <cache>/rootfs/<digest-hex>/) as a raw ext4 file, attached read-only to every guest:
  the base never changes, like a container's read-only rootfs.
- scratch/: per-run scratch disks (the mode's `scratch: virtio-disk`, scratch_disk below): a
  sparse raw file with a fresh ext4, the qemu user's and 0600, in a directory only root
  writes in; attached read-write as a virtio-blk device with serial SCRATCH_SERIAL and mounted
  by /init at SCRATCH_MOUNT. The run removes it when it ends; a killed run's is replaced by its
  next attempt and removed by `execbench sweep`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..fsutil import atomic_write_json, file_lock, sha256_file
from ..rootfs import SCRATCH_MOUNT, digest_hex, export_rootfs
from .base import ModeError
from .common import PAYLOAD_UID

KERNEL_METAPACKAGE = "linux-image-amd64"
BUSYBOX = "/bin/busybox"  # from Debian's busybox-static (a static binary: no libs to copy)
# Loaded in this order by /init (dependencies first, resolved from each module's modinfo).
GUEST_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "9pnet_virtio", "9p"]
READY_LINE = "EXECBENCH-READY"
DONE_LINE = "EXECBENCH-DONE"
# the disk layout: 2 = the rootfs holds SCRATCH_MOUNT (disks built before are rebuilt)
DISK_LAYOUT = 2
SCRATCH_SERIAL = "execbench-scratch"  # virtio-blk serial of the scratch disk, how /init finds it
SCRATCH_LABEL = "execbench-io"  # ext4 labels hold at most 16 bytes
SCRATCH_SLACK_BYTES = 128 << 20  # ext4's journal and inode tables, and room to spare

# Runs as PID 1 in the guest. Kernel command-line keys (all ours start with execbench.):
#   execbench.mode=ready  print the ready line, power off (readiness check)
#   execbench.mode=run    mount /dev/vda (ro) + the 9p share `run`, print the ready line,
#                         run execbench.cmd (base64 JSON, see vm.guest_command) through
#                         /stage2.py with the image's python3, print the done line, power off
#   execbench.scratch=S   (run) also mount the ext4 virtio disk whose serial is S read-write
#                         at SCRATCH_MOUNT (nosuid,nodev), unmounted before the done line
#   execbench.mode=exec   as run, without the 9p share (startup-latency samples)
GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
fail() { echo "EXECBENCH-FAIL $*"; sync; poweroff -f; sleep 5; reboot -f; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
mode=$(arg execbench.mode)
if [ "$mode" = ready ]; then
  echo "EXECBENCH-READY $(cut -d' ' -f1 /proc/uptime)"
  poweroff -f
fi
for m in $(cat /modules.order); do insmod /modules/$m.ko || fail "insmod $m"; done
for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 -o ro,noload /dev/vda /newroot || fail "mount /dev/vda"
R=/newroot
mount -t devtmpfs dev $R/dev && mkdir -p $R/dev/shm && \
  mount -t tmpfs -o nosuid,nodev,mode=1777 shm $R/dev/shm || fail "mount /dev"
mount -t proc -o nosuid,nodev,noexec proc $R/proc || fail "mount /proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs $R/sys || fail "mount /sys"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp $R/tmp || fail "mount /tmp"
if [ "$mode" = run ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none run $R/execbench/run \
    || fail "mount 9p run"
  # mapped-xattr share: the guest-side owner lives in an xattr (the host dir is the qemu user's)
  chown @PAYLOAD_ID@:@PAYLOAD_ID@ $R/execbench/run || fail "chown the run dir"
  scratch=$(arg execbench.scratch)
  if [ -n "$scratch" ]; then
    dev=
    for i in $(seq 100); do
      for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = "$scratch" ] && dev=/dev/${d##*/}; done
      [ -n "$dev" ] && [ -b "$dev" ] && break
      sleep 0.1
    done
    [ -n "$dev" ] || fail "no virtio disk with serial $scratch"
    mount -t ext4 -o nosuid,nodev "$dev" $R@SCRATCH@ || fail "mount scratch disk $dev at @SCRATCH@"
  fi
fi
echo "EXECBENCH-READY $(cut -d' ' -f1 /proc/uptime)"
chroot $R /usr/bin/python3 -c "$(cat /stage2.py)" "$(arg execbench.cmd)"
rc=$?
sync
[ -n "$scratch" ] && umount $R@SCRATCH@
[ "$mode" = run ] && umount $R/execbench/run
echo "EXECBENCH-DONE rc=$rc $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
""".replace("@PAYLOAD_ID@", str(PAYLOAD_UID)).replace("@SCRATCH@", SCRATCH_MOUNT)

# Runs with the image's python3, as root in the chroot, then drops to the payload user with
# no new privileges.
# argv[1]: base64 JSON {"argv": [...], "env": {...}, "cwd": str, "uid": int, "gid": int,
# "log": path or null, "start_in_s": float or null}. With start_in_s the value after
# --start-at in argv is replaced by the guest's own clock + start_in_s: the barrier must
# be on the clock the launcher reads, and the guest's clock is not the host's.
GUEST_STAGE2 = r"""
import base64, json, os, sys, time
spec = json.loads(base64.b64decode(sys.argv[1]))
argv = list(spec["argv"])
if spec.get("start_in_s") is not None:
    argv[argv.index("--start-at") + 1] = "%.6f" % (time.time() + spec["start_in_s"])
pid = os.fork()
if pid == 0:
    try:
        if spec.get("log"):
            fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1); os.dup2(fd, 2)
        os.chdir(spec["cwd"])
        os.setgroups([]); os.setgid(spec["gid"]); os.setuid(spec["uid"])
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, as in every mode
            raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
        os.execvpe(argv[0], argv, spec["env"])
    except BaseException as err:
        print("EXECBENCH-FAIL stage2: %r" % (err,), file=sys.stderr, flush=True)
        os._exit(127)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@dataclass(frozen=True)
class Kernel:
    package: str
    version: str
    deb_sha256: str
    vmlinuz: str
    vmlinuz_sha256: str
    release: str  # uname -r of the guest
    modules_dir: str

    def record(self) -> dict:
        return {"package": self.package, "version": self.version, "deb_sha256": self.deb_sha256,
                "vmlinuz_sha256": self.vmlinuz_sha256, "release": self.release}


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise ModeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return proc


def current_kernel_package() -> str:
    """The concrete package the metapackage points at now (e.g. linux-image-6.1.0-56-amd64)."""
    out = _run(["apt-cache", "depends", KERNEL_METAPACKAGE]).stdout
    found = re.findall(r"Depends: (linux-image-\S+)", out)
    if not found:
        raise ModeError(f"apt-cache depends {KERNEL_METAPACKAGE}: no linux-image-* dependency in {out!r}")
    return found[0]


def kernel(cache_dir: str | Path) -> Kernel:
    """The guest kernel, fetched once. Later calls reuse the cached one even after the
    mirror moves on (same kernel for a whole study); delete <cache>/vm/kernel to refresh."""
    base = Path(cache_dir).resolve() / "vm" / "kernel"
    base.mkdir(parents=True, exist_ok=True)
    with file_lock(base / ".lock"):
        cached = sorted(base.glob("*/kernel.json"))
        if cached:
            data = json.loads(cached[-1].read_text())
            return Kernel(**data)
        package = current_kernel_package()
        with tempfile.TemporaryDirectory(dir=base) as tmp:
            _run(["apt-get", "download", package], cwd=tmp)
            debs = list(Path(tmp).glob("*.deb"))
            if len(debs) != 1:
                raise ModeError(f"apt-get download {package}: expected one .deb, got {debs}")
            deb = debs[0]
            version = _run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
            target = base / f"{package}_{version}"
            tree = Path(tmp) / "tree"
            _run(["dpkg", "-x", str(deb), str(tree)])
            vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
            release = vmlinuz.name[len("vmlinuz-"):]
            found = Kernel(package=package, version=version, deb_sha256=sha256_file(deb),
                           vmlinuz=str(target / "tree" / "boot" / vmlinuz.name),
                           vmlinuz_sha256=sha256_file(vmlinuz), release=release,
                           modules_dir=str(target / "tree" / "lib" / "modules" / release / "kernel"))
            target.mkdir()
            tree.rename(target / "tree")
            atomic_write_json(target / "kernel.json", asdict(found))  # never a truncated record (ENOSPC)
        return found


def module_load_order(modules_dir: str | Path, wanted: list[str]) -> list[Path]:
    """The .ko files for `wanted` and everything they depend on, dependencies first
    (read from each module's own `depends=` modinfo: the package ships no modules.dep)."""
    files = {p.stem.replace("-", "_"): p for p in Path(modules_dir).rglob("*.ko")}
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in files:
            raise ModeError(f"guest kernel module {name!r} not found under {modules_dir}")
        match = re.search(rb"\0depends=([^\0]*)\0", files[name].read_bytes())
        for dep in (match.group(1).decode().split(",") if match else []):
            if dep:
                visit(dep)
        order.append(files[name])

    for name in wanted:
        visit(name)
    return order


def initramfs(cache_dir: str | Path, kern: Kernel) -> tuple[Path, dict]:
    """Our initramfs for this kernel (cached by the hash of everything in it)."""
    if not Path(BUSYBOX).is_file():
        raise ModeError(f"{BUSYBOX} missing: install Debian's busybox-static")
    modules = module_load_order(kern.modules_dir, GUEST_MODULES)
    key = hashlib.sha256(json.dumps([kern.vmlinuz_sha256, sha256_file(Path(BUSYBOX)), GUEST_INIT, GUEST_STAGE2,
                                     [m.name for m in modules]]).encode()).hexdigest()[:16]
    base = Path(cache_dir).resolve() / "vm" / "initramfs"
    base.mkdir(parents=True, exist_ok=True)
    image, meta_file = base / f"{key}.cpio.gz", base / f"{key}.json"
    with file_lock(base / f"{key}.lock"):
        if image.is_file() and meta_file.is_file():
            return image, json.loads(meta_file.read_text())
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(dir=base) as tmp:
            root = Path(tmp) / "root"
            for sub in ("bin", "dev", "proc", "sys", "modules", "newroot"):
                (root / sub).mkdir(parents=True)
            shutil.copy2(BUSYBOX, root / "bin" / "busybox")
            (root / "bin" / "sh").symlink_to("busybox")
            os.mknod(root / "dev" / "console", 0o600 | 0o020000, os.makedev(5, 1))
            for module in modules:
                shutil.copy2(module, root / "modules" / module.name)
            (root / "modules.order").write_text("".join(m.stem + "\n" for m in modules))
            (root / "init").write_text(GUEST_INIT)
            (root / "init").chmod(0o755)
            (root / "stage2.py").write_text(GUEST_STAGE2)
            names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
            archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root,
                                     input=("\n".join(names) + "\n").encode(), capture_output=True, check=True).stdout
            partial = image.with_suffix(".partial")
            partial.write_bytes(gzip.compress(archive, compresslevel=6, mtime=0))
            partial.rename(image)
        meta = {"key": key, "size_bytes": image.stat().st_size, "build_s": round(time.monotonic() - t0, 3),
                "modules": [m.stem for m in modules], "busybox": BUSYBOX, "sha256": sha256_file(image)}
        atomic_write_json(meta_file, meta)
        return image, meta


def disk_image(reference: str, cache_dir: str | Path) -> tuple[Path, dict]:
    """The image (by digest) as a raw ext4 file: <cache>/vm/disk/<digest-hex>.ext4.

    Built from the rootfs bare mode exports (shared cache), with mkfs.ext4 -d, which
    keeps owners and modes. No journal and no metadata checksums: the guest mounts
    it read-only, and fewer features mean fewer modules."""
    hexdigest = digest_hex(reference)
    base = Path(cache_dir).resolve() / "vm" / "disk"
    base.mkdir(parents=True, exist_ok=True)
    disk, meta_file = base / f"{hexdigest}.ext4", base / f"{hexdigest}.json"
    with file_lock(base / f"{hexdigest}.lock"):
        if disk.is_file() and meta_file.is_file():
            meta = json.loads(meta_file.read_text())
            if meta.get("layout") == DISK_LAYOUT:
                return disk, meta
        t0 = time.monotonic()
        rootfs, rootfs_meta = export_rootfs(reference, cache_dir)
        export_s = time.monotonic() - t0
        # the scratch disk's mount point (trees exported before it was one lack it)
        (rootfs / SCRATCH_MOUNT.lstrip("/")).mkdir(parents=True, exist_ok=True)
        used = int(_run(["du", "-s", "--block-size=1", str(rootfs)]).stdout.split()[0])
        # room for ext4's own metadata (inode tables, ~+15 %) and 64 MiB of slack
        size_mib = int(used * 1.2) // (1 << 20) + 64
        partial = disk.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        t1 = time.monotonic()
        _run(["mkfs.ext4", "-q", "-F", "-L", "execbench-root", "-O", "^has_journal,^metadata_csum",
              "-E", "root_owner=0:0", "-d", str(rootfs), str(partial), f"{size_mib}M"])
        partial.rename(disk)
        meta = {"reference": reference, "digest": f"sha256:{hexdigest}", "rootfs": str(rootfs), "layout": DISK_LAYOUT,
                "env": rootfs_meta.get("env", []), "size_bytes": disk.stat().st_size,
                "rootfs_bytes": used, "mkfs_s": round(time.monotonic() - t1, 3),
                "export_s": round(export_s, 3),
                "built_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        atomic_write_json(meta_file, meta)
        return disk, meta


def scratch_size_bytes(per_copy_bytes: int, copies: int) -> int:
    """The scratch disk's size for `copies` copies that each hold at most `per_copy_bytes` at once:
    a quarter more per copy (block rounding, fio's own files) plus SCRATCH_SLACK_BYTES for
    ext4's journal and inode tables, in whole MiB. The file is sparse: only what the guest
    writes takes host space."""
    need = copies * per_copy_bytes * 5 // 4 + SCRATCH_SLACK_BYTES
    return -(-need // (1 << 20)) << 20


def scratch_dir(cache_dir: str | Path) -> Path:
    """<cache>/vm/scratch: root's, 0711 (the qemu user opens its own disk by name, lists nothing,
    creates nothing: only root makes and removes entries, so no link can be swapped in)."""
    path = Path(cache_dir).resolve() / "vm" / "scratch"
    path.mkdir(mode=0o711, parents=True, exist_ok=True)
    st = path.lstat()
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.geteuid():
        raise ModeError(f"{path} is not a directory of uid {os.geteuid()}: scratch disks must live where "
                        "only this user creates entries")
    if st.st_mode & 0o7777 != 0o711:
        path.chmod(0o711)
    return path


def scratch_disk(path: Path, size_bytes: int, owner_uid: int | None, owner_gid: int | None) -> dict:
    """Make a fresh scratch disk at `path` (an earlier one there is replaced): a sparse raw file
    of `size_bytes`, the owner's and 0600 (never world-readable or -writable), with an ext4 of
    the host's mke2fs defaults (the journal included, as a KVM guest's data disk has) and 4 KiB
    blocks whatever its size (mke2fs's "small" type would give 1 KiB blocks below 512 MiB, which
    no VM data disk has), its root directory the payload user's. Inode tables and journal are written now, not lazily by the
    guest kernel (lazy_itable_init=0, lazy_journal_init=0): ext4lazyinit would otherwise write
    in the background while fio measures. Returns what was made (size, label, features, seconds)."""
    t0 = time.monotonic()
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size_bytes)
        if owner_uid is not None and os.geteuid() == 0:
            os.fchown(fd, owner_uid, owner_gid)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    try:
        _run(["mkfs.ext4", "-q", "-F", "-L", SCRATCH_LABEL, "-b", "4096", "-E",
              f"root_owner={PAYLOAD_UID}:{PAYLOAD_UID},lazy_itable_init=0,lazy_journal_init=0", str(path)])
        header = _run(["dumpe2fs", "-h", str(path)]).stdout
    except ModeError:
        path.unlink(missing_ok=True)
        raise
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    return {"size_bytes": size_bytes, "fs": "ext4", "label": SCRATCH_LABEL, "serial": SCRATCH_SERIAL,
            "features": fields.get("Filesystem features", "").split(),
            "block_size": int(fields.get("Block size", "0").strip() or 0),
            "journal_size": (fields.get("Total journal size") or fields.get("Journal size") or "").strip() or None,
            "mkfs_s": round(time.monotonic() - t0, 3)}
