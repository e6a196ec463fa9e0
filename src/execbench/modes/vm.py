"""VM mode: the same image (by digest) booted as a qemu guest.

The guest boots a Debian kernel with our tiny initramfs (execbench.vmimage), which
mounts the image's root filesystem read-only from a raw ext4 disk, the run dir over
virtio-9p at /execbench/run, and runs the same launcher command as every other mode
as uid 10001. No network device, no ssh: the command goes in on the kernel command
line, the results come back through the share, and the serial console is kept in
<run dir>/console.log.

Tuning factors (config `modes.<name>`): vcpus (default: the run's copies), cpu_model
(host = passthrough), pin_vcpus (each vCPU thread pinned to one host core, done over
QMP while the guest is still paused), memory_mb, scratch.

`scratch` says where an I/O payload's data go (issue 18; I/O through a 9p share is not I/O
through a virtio disk, kata-containers/runtime#2138, so a fio ratio over 9p is not comparable
with published KVM numbers): `9p` (default) = the copies' directories on the 9p share, as
every other payload; `virtio-disk` = a fresh ext4 scratch disk per run (vmimage.scratch_disk,
sized from the payload's Payload.scratch_bytes for all copies), attached read-write as a
virtio-blk device with cache=none (host O_DIRECT, the usual setting for a KVM guest's data
disk; writeback where the host file system refuses O_DIRECT, recorded), mounted by the guest
at SCRATCH_MOUNT and handed to copy i as SCRATCH_MOUNT/copy<i> ($EXECBENCH_SCRATCH, the
launcher's --scratch). Logs still go to the copy dirs on the share, so they reach the run dir
as the payload writes them. A payload that declares no scratch needs gets no disk (recorded
as scratch_applied 9p, with why). The disk file is removed when the run ends, whatever its
status; after a hard kill the run's next attempt replaces it and `execbench sweep` removes it.

qemu never runs as root (issue 13, R11): it is started as the unprivileged host user
`qemu_user` (default execbench-vm, made by scripts/setup.sh; in /dev/kvm's group where that
exists) directly, not through qemu's -runas, because a credential change clears the
parent-death signal; with PR_SET_PDEATHSIG it dies with the harness (R6: an orphaned guest
never keeps measuring unobserved), and a new run first kills any guest left by an earlier
attempt of the same run (found by its name, execbench-<results tag>-<run id>, in /proc). It
runs under its seccomp sandbox (SANDBOX), and the 9p share uses security_model=mapped-xattr:
the guest's owners and modes live in user.virtfs.* xattrs, the host files are the qemu user's
and at most 0600/0700, so guest root can create no root-owned or setuid file in results/.
Paths in qemu option strings have their commas doubled (qemu's own escape).

Before any run the mode boots a tiny guest under KVM and waits for its ready line
(readiness check, verdict cached per host boot and kernel in <cache>/vm/readiness.json).
Where KVM guests cannot boot (nested PVM here: qemu aborts or the guest hangs) the mode
is unavailable, unless `allow_emulation: true`: then it runs under TCG and every run is
flagged emulated: TCG numbers are never VM overhead.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..fsutil import atomic_write_json, atomic_write_text, file_lock, utc_now
from ..rootfs import SCRATCH_MOUNT, image_environment
from . import vmimage
from .base import Availability, Mode, ModeContext, ModeError, RunContext, RunOutcome, StartupSample
from .common import (HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RUN_MOUNT, check_reachable, collect,
                     environment_name, launcher_argv, prepare_run_dir)

QEMU = "qemu-system-x86_64"
EMULATION_NOTE = "emulated (TCG) — not comparable to bare metal"
READINESS_TIMEOUT_S = 45.0  # a KVM guest that has not said ready by then never will here
BOOT_TIMEOUT_S = 180.0  # boot-to-ready allowance for a payload guest (TCG boots in ~10-20 s)
SHUTDOWN_TIMEOUT_S = 30.0
# Copies start this long after stage 2 reads the guest clock: enough for the launcher's
# python to start (~2-3 s under TCG here, well under 1 s with KVM).
GUEST_BARRIER_S = {"kvm": 1.0, "tcg": 5.0}
POLL_S = 0.02
CONSOLE_LOG = "console.log"
QEMU_LOG = "qemu.log"
DETAIL_FILE = "vm.json"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KERNEL_ARGS = ["console=ttyS0", "quiet", "panic=-1"]  # panic: reboot at once, and -no-reboot ends qemu
COMMAND_LINE_MAX = 2047  # x86 COMMAND_LINE_SIZE - 1


@dataclass(frozen=True)
class VmAvailability(Availability):
    accel: str = "kvm"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


DEFAULT_QEMU_USER = "execbench-vm"
# qemu's seccomp filter: no obsolete syscalls, no setuid/setgid, no fork/exec, no priority or
# affinity changes by qemu itself (the host pins vCPU threads from outside, over QMP's thread ids)
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
NINE_P_SECURITY_MODEL = "mapped-xattr"
SCRATCH_CHOICES = ("9p", "virtio-disk")
# the scratch disk's PCI slot: above every slot qemu assigns by itself here, so the kernel
# enumerates it after the root disk, which stays /dev/vda (the -drive if=virtio devices are
# created after the -device ones and would otherwise get the lower slot)
SCRATCH_PCI_ADDR = "0x10"
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


def qemu_opt(value: object) -> str:
    """A value inside a qemu option string (key=value,...): a comma is written as two."""
    return str(value).replace(",", ",,")


def _prctl():
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


_PRCTL = _prctl()


def as_qemu_user(user: pwd.struct_passwd | None):
    """preexec_fn: become `user` (with its groups: /dev/kvm's, where it is a member), no new
    privileges, SIGKILL when the harness dies. prctl comes after setuid, which would clear it."""
    groups = os.getgrouplist(user.pw_name, user.pw_gid) if user is not None else None

    def preexec():
        if user is not None:
            os.setgroups(groups)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        if _PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError("prctl(PR_SET_NO_NEW_PRIVS / PR_SET_PDEATHSIG) failed")

    return preexec


def qemu_user(settings) -> pwd.struct_passwd:
    """The unprivileged host user qemu runs as; ModeError naming the setting when it is missing
    or root."""
    name = settings["qemu_user"]
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise ModeError(f"host user {name!r} for qemu does not exist (scripts/setup.sh creates it; "
                        "modes.<vm>.qemu_user names another)") from None
    if user.pw_uid == 0:
        raise ModeError(f"modes.<vm>.qemu_user {name!r} is root: qemu must not run as root")
    return user


def user_can_use(path: str, user: pwd.struct_passwd) -> bool:
    """Whether `user` (by its uid and groups) may open `path` read-write."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == user.pw_uid:
        return st.st_mode & 0o600 == 0o600
    if st.st_gid in os.getgrouplist(user.pw_name, user.pw_gid):
        return st.st_mode & 0o060 == 0o060
    return st.st_mode & 0o006 == 0o006


def give_to(path: Path, user: pwd.struct_passwd | None) -> Path:
    """chown a directory qemu writes in (console, QMP socket) to the qemu user."""
    if user is not None and os.geteuid() == 0:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def guest_pids(name: str, prefix: bool = False) -> list[int]:
    """Pids of qemu processes whose -name is `name` (or starts with it), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].decode(errors="replace").endswith(QEMU) or b"-name" not in argv:
            continue
        value = argv[argv.index(b"-name") + 1].decode(errors="replace") if argv.index(b"-name") + 1 < len(argv) else ""
        if value == name or (prefix and value.startswith(name)):
            found.append(int(entry.name))
    return found


def kill_guests(name: str, prefix: bool = False, wait_s: float = 30.0) -> list[int]:
    """SIGKILL the qemu processes guest_pids finds and wait until they are gone; their pids."""
    pids = guest_pids(name, prefix)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def cpu_args(accel: str, cpu_model: str) -> list[str]:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", cpu_model]
    # TCG cannot pass the host CPU through; "max" is every feature TCG emulates
    return ["-accel", "tcg", "-cpu", "max" if cpu_model == "host" else cpu_model]


def kernel_cmdline(mode: str, guest_command: dict | None = None, scratch_serial: str | None = None) -> str:
    args = KERNEL_ARGS + [f"execbench.mode={mode}"]
    if scratch_serial is not None:
        args.append(f"execbench.scratch={scratch_serial}")
    if guest_command is not None:
        encoded = base64.b64encode(json.dumps(guest_command, separators=(",", ":")).encode()).decode()
        args.append(f"execbench.cmd={encoded}")
    line = " ".join(args)
    if len(line) > COMMAND_LINE_MAX:
        raise ModeError(f"guest kernel command line is {len(line)} bytes, over the kernel's {COMMAND_LINE_MAX}")
    return line


def qemu_argv(*, name: str, kernel: str, initrd: str, cmdline: str, accel: str, cpu_model: str, vcpus: int,
              memory_mb: int, console: Path, qmp: Path | None = None, disk: Path | None = None,
              share: Path | None = None, scratch: Path | None = None, scratch_cache: str = "none") -> list[str]:
    # -kernel, -initrd and -append take their value whole; every path inside a key=value option
    # string has its commas doubled (qemu_opt)
    argv = [QEMU, "-name", qemu_opt(name), "-nodefaults", "-no-user-config", "-display", "none",
            "-machine", "q35", "-sandbox", SANDBOX,
            *cpu_args(accel, cpu_model), "-smp", str(vcpus), "-m", str(memory_mb),
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
            "-chardev", f"file,id=console,path={qemu_opt(console)}", "-serial", "chardev:console",
            "-nic", "none", "-no-reboot"]  # a guest reboot or panic ends qemu
    if disk is not None:
        argv += ["-drive", f"file={qemu_opt(disk)},format=raw,if=virtio,readonly=on"]
    if scratch is not None:  # read-write, found by the guest by its serial (vmimage.GUEST_INIT)
        argv += ["-drive", f"file={qemu_opt(scratch)},format=raw,if=none,id=scratch,cache={scratch_cache}",
                 "-device", f"virtio-blk-pci,drive=scratch,serial={vmimage.SCRATCH_SERIAL},addr={SCRATCH_PCI_ADDR}"]
    if share is not None:
        argv += ["-virtfs", f"local,path={qemu_opt(share)},mount_tag=run,security_model={NINE_P_SECURITY_MODEL}"]
    if qmp is not None:  # paused (-S) until the vCPUs are pinned
        argv += ["-chardev", f"socket,id=qmp,path={qemu_opt(qmp)},server=on,wait=off",
                 "-mon", "chardev=qmp,mode=control", "-S"]
    return argv


class Qmp:
    """The few QMP commands we need, over qemu's unix socket."""

    def __init__(self, path: Path, proc: subprocess.Popen, timeout_s: float = 20.0):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout_s)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if proc.poll() is not None:
                    raise ModeError(f"qemu exited {proc.returncode} before its QMP socket opened") from None
                if time.monotonic() > deadline:
                    raise ModeError(f"no QMP socket at {path} after {timeout_s:g} s") from None
                time.sleep(0.05)
        self.reader = self.sock.makefile("r")
        json.loads(self.reader.readline())  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str) -> object:
        self.sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        while True:
            reply = json.loads(self.reader.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise ModeError(f"QMP {command}: {reply['error']}")
            # else an asynchronous event: skip

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def pin_vcpus(qmp: Qmp) -> dict:
    """vCPU i's host thread -> the i-th usable host core (round robin)."""
    cores = sorted(os.sched_getaffinity(0))
    mapping = {}
    for cpu in qmp.execute("query-cpus-fast"):
        index, thread = cpu["cpu-index"], cpu["thread-id"]
        core = cores[index % len(cores)]
        os.sched_setaffinity(thread, {core})
        mapping[str(index)] = {"thread_id": thread, "host_core": core}
    return mapping


@dataclass
class GuestOutcome:
    boot_to_ready_s: float | None = None
    run_s: float | None = None  # ready line -> done line
    shutdown_s: float | None = None  # done line -> qemu exited
    guest_rc: int | None = None
    qemu_exit: int | None = None
    killed: bool = False
    failure: str = ""  # the guest's own EXECBENCH-FAIL line, or what the host saw
    pinning: dict | None = None


def _console_lines(path: Path, offset: int) -> tuple[list[str], int]:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1  # only whole lines
    return data[:end].decode(errors="replace").splitlines(), offset + end


def boot_guest(argv: list[str], console: Path, qemu_log: Path, *, qmp: Path | None, ready_timeout_s: float,
               run_timeout_s: float | None, user: pwd.struct_passwd | None) -> GuestOutcome:
    """Start qemu as `user` (as_qemu_user), (pin,) wait for the ready line, then (if
    run_timeout_s) for the done line, then for qemu to exit. Kills qemu when a stage overruns.
    Times are host monotonic."""
    outcome = GuestOutcome()
    t0 = time.monotonic()
    with open(qemu_log, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=as_qemu_user(user))
    try:
        if qmp is not None:
            client = Qmp(qmp, proc)
            try:
                outcome.pinning = pin_vcpus(client)
                client.execute("cont")
            finally:
                client.close()
        offset, stage, t_ready, t_done = 0, "boot", None, None
        deadline = t0 + ready_timeout_s
        while True:
            exited = proc.poll() is not None  # before reading: every line written before the exit is seen
            lines, offset = _console_lines(console, offset)
            now = time.monotonic()
            for line in lines:
                if vmimage.READY_LINE in line and stage == "boot":
                    t_ready, stage = now, "run" if run_timeout_s is not None else "shutdown"
                    outcome.boot_to_ready_s = t_ready - t0
                    deadline = now + (run_timeout_s if run_timeout_s is not None else SHUTDOWN_TIMEOUT_S)
                elif vmimage.DONE_LINE in line and stage == "run":
                    t_done, stage = now, "shutdown"
                    outcome.run_s = t_done - t_ready
                    match = re.search(r"rc=(\d+)", line)
                    outcome.guest_rc = int(match.group(1)) if match else None
                    deadline = now + SHUTDOWN_TIMEOUT_S
                elif "EXECBENCH-FAIL" in line and not outcome.failure:
                    outcome.failure = line.strip()
            if exited:
                outcome.qemu_exit = proc.returncode
                if stage == "shutdown":
                    outcome.shutdown_s = time.monotonic() - (t_done or t_ready)
                elif not outcome.failure:
                    outcome.failure = (f"qemu exited {proc.returncode} during {stage} (see {console.name}, "
                                       f"{qemu_log.name}): {_tail(qemu_log)}")
                return outcome
            if now > deadline:
                _kill(proc)
                outcome.killed, outcome.qemu_exit = True, proc.returncode
                outcome.failure = outcome.failure or (
                    f"guest killed by the host after {now - t0:.1f} s: no "
                    + {"boot": "ready line", "run": "done line", "shutdown": "power-off"}[stage]
                    + f" in time (hung or panicked; see {console.name})")
                return outcome
            time.sleep(POLL_S)
    except BaseException:
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, limit: int = 400) -> str:
    try:
        return path.read_text(errors="replace").strip()[-limit:]
    except OSError:
        return ""


# --- readiness -----------------------------------------------------------------------

def kvm_access_hint(who: str, device: str = "/dev/kvm") -> str:
    """Why `who` cannot use the KVM device and what would fix it, from the device's own mode:
    joining its group helps only when the group may read and write it (Debian's udev rule makes
    it root:kvm 0660; a bare container or a minimal host may leave it root:root 0600)."""
    try:
        st = os.stat(device)
    except OSError:
        return "missing (no KVM on this host: the module is not loaded, or a VM without nested virtualisation)"
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    mode = stat.filemode(st.st_mode)
    name = who[len("user "):] if who.startswith("user ") else "the user qemu runs as"
    if st.st_mode & 0o060 == 0o060 and st.st_gid != 0:
        return f"not read-writable by {who} ({mode}, group {group}): add {name} to group {group}"
    return (f"not read-writable by {who} ({mode}, group {group}): give the device a group that may read and write "
            f"it (Debian: root:kvm 0660 by udev's rule) and add {name} to that group")


def readiness(cache_dir: str | Path, accel: str, cpu_model: str, user: pwd.struct_passwd | None) -> dict:
    """Can a guest boot with this accelerator here, started as `user`? Boots the tiny guest once
    per host boot, kernel, CPU model and user; the verdict is kept in <cache>/vm/readiness.json."""
    base = Path(cache_dir).resolve() / "vm"
    base.mkdir(parents=True, exist_ok=True)
    kern = vmimage.kernel(cache_dir)
    initrd, initrd_meta = vmimage.initramfs(cache_dir, kern)
    key = f"{accel}:{cpu_model if accel == 'kvm' else 'max'}"
    identity = {"boot_id": _boot_id(), "vmlinuz_sha256": kern.vmlinuz_sha256, "initramfs": initrd_meta["key"],
                "qemu_user": user.pw_name if user is not None else None}
    verdicts_file = base / "readiness.json"
    with file_lock(base / "readiness.lock"):
        verdicts = json.loads(verdicts_file.read_text()) if verdicts_file.is_file() else {}
        cached = verdicts.get(key)
        if cached and all(cached.get(k) == v for k, v in identity.items()):
            return dict(cached, cached=True)
        tmp = str(give_to(Path(tempfile.mkdtemp(prefix="execbench-vm-ready-")), user))
        console, log = Path(tmp) / CONSOLE_LOG, Path(tmp) / QEMU_LOG
        argv = qemu_argv(name="execbench-readiness", kernel=kern.vmlinuz, initrd=str(initrd),
                         cmdline=kernel_cmdline("ready"), accel=accel, cpu_model=cpu_model, vcpus=1,
                         memory_mb=256, console=console)
        if accel == "kvm" and not (user_can_use("/dev/kvm", user) if user is not None
                                   else os.access("/dev/kvm", os.R_OK | os.W_OK)):
            who = f"user {user.pw_name}" if user is not None else "this process"
            verdict = {"ok": False, "seconds": 0.0, "reason": f"/dev/kvm {kvm_access_hint(who)}"}
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            try:
                t0 = time.monotonic()
                outcome = boot_guest(argv, console, log, qmp=None, ready_timeout_s=READINESS_TIMEOUT_S,
                                     run_timeout_s=None, user=user)
                seconds = time.monotonic() - t0
                if outcome.boot_to_ready_s is not None:
                    verdict = {"ok": True, "reason": "", "seconds": round(seconds, 3),
                               "boot_to_ready_s": round(outcome.boot_to_ready_s, 3)}
                elif outcome.killed:
                    verdict = {"ok": False, "seconds": round(seconds, 3), "reason":
                               f"{accel} guest did not reach its ready line within {READINESS_TIMEOUT_S:g} s "
                               f"(hangs in early boot; console tail: {_tail(console, 200)!r})"}
                else:
                    verdict = {"ok": False, "seconds": round(seconds, 3), "reason":
                               f"{accel} guest stopped before its ready line (qemu exit {outcome.qemu_exit}): "
                               f"{_tail(log, 300) or _tail(console, 300)}"}
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        verdict["reason"] = " ".join(verdict["reason"].split())  # one line in run.json and tables
        verdict.update(identity, accel=accel, cpu_model=cpu_model, checked_utc=utc_now("seconds"),
                       qemu_command=" ".join(argv).replace(tmp, "<tmp>"))
        verdicts[key] = verdict
        atomic_write_json(verdicts_file, verdicts)
        return dict(verdict, cached=False)


def qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unknown ({err})"
    return out.splitlines()[0].strip() if out else "unknown"


@contextlib.contextmanager
def scratch_removed(path: Path | None):
    """The scratch disk is removed when the run ends, whatever its outcome (a SIGTERM included)."""
    try:
        yield path
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


class VmMode(Mode):
    kind = "vm"
    description = "qemu/KVM guest booted from the same image (its rootfs as a read-only disk)"
    settings_schema = {
        "allow_emulation": {"type": "boolean", "default": False,
                            "description": "Fall back to qemu TCG when KVM guests cannot boot; results are "
                                           "flagged emulated and never reported as VM overhead."},
        "cpu_model": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 64, "default": "host",
                      "description": "qemu CPU model; host = passthrough."},
        "pin_vcpus": {"type": "boolean", "default": True, "description": "Pin each vCPU thread to one host core."},
        "memory_mb": {"type": "integer", "minimum": 256, "maximum": 4194304, "default": 2048,
                      "description": "Guest memory in MiB."},
        "vcpus": {"type": ["integer", "null"], "minimum": 1, "maximum": 1024, "default": None,
                  "description": "Virtual CPUs (default: the run's copies)."},
        "scratch": {"type": "string", "enum": list(SCRATCH_CHOICES), "default": "9p",
                    "description": "Where an I/O payload's data go (fio): 9p = the copies' directories on the "
                                   "run dir's 9p share; virtio-disk = a fresh ext4 disk per run, sized from the "
                                   "payload, attached as virtio-blk (cache=none) and mounted at /execbench/scratch "
                                   "(logs still go to the run dir over 9p; the disk file is removed when the run "
                                   "ends). Each copy records the file system it measured."},
        "qemu_user": {"type": "string", "pattern": "^[a-z_][a-z0-9_-]*$", "maxLength": 32, "default": DEFAULT_QEMU_USER,
                      "description": "The unprivileged host user qemu runs as (never root; scripts/setup.sh "
                                     "creates execbench-vm). It needs /dev/kvm read-write for KVM guests."},
    }

    def __init__(self):
        self._availability: dict[str, VmAvailability] = {}
        self._kernel: vmimage.Kernel | None = None

    def available(self, ctx: ModeContext) -> Availability:
        opts, cache_dir = ctx.settings, ctx.cache_dir
        for tool in (QEMU, "apt-get", "dpkg", "cpio", "mkfs.ext4"):
            if shutil.which(tool) is None:
                return Availability(False, f"'{tool}' not found on the host")
        if not Path(vmimage.BUSYBOX).is_file():
            return Availability(False, f"{vmimage.BUSYBOX} missing (Debian package busybox-static)")
        try:
            user = qemu_user(opts)
            kvm = readiness(cache_dir, "kvm", opts["cpu_model"], user)
            if kvm["ok"]:
                return self._remember(cache_dir, VmAvailability(True, "", emulated=False, accel="kvm"))
            if not opts["allow_emulation"]:
                return Availability(False, f"KVM guests cannot boot on this host: {kvm['reason']} "
                                           f"(checked in {kvm['seconds']:g} s). Set allow_emulation: true to run "
                                           f"under qemu TCG, flagged '{EMULATION_NOTE}'.")
            tcg = readiness(cache_dir, "tcg", opts["cpu_model"], user)
            if not tcg["ok"]:
                return Availability(False, f"neither KVM ({kvm['reason']}) nor TCG ({tcg['reason']}) guests boot")
            return self._remember(cache_dir, VmAvailability(
                True, f"{EMULATION_NOTE}; KVM unusable here: {kvm['reason']}"[:1000], emulated=True, accel="tcg"))
        except ModeError as err:
            return Availability(False, f"VM boot artefacts: {err}")

    def _remember(self, cache_dir, availability: VmAvailability) -> VmAvailability:
        self._availability[str(Path(cache_dir).resolve())] = availability
        self._kernel = vmimage.kernel(cache_dir)  # cached by the readiness check
        return availability

    def _accel(self, ctx: ModeContext) -> VmAvailability:
        known = self._availability.get(str(Path(ctx.cache_dir).resolve()))
        availability = known or self.available(ctx)
        if not availability.ok:
            raise ModeError(f"vm mode unavailable: {availability.reason}")
        return availability

    def versions(self, ctx: ModeContext) -> dict:
        emulated = any(a.emulated for a in self._availability.values())
        versions = {"engine": qemu_version(), "runtime": "TCG (emulated)" if emulated else "KVM"}
        if self._kernel is not None:
            versions["guest_kernel"] = f"{self._kernel.package} {self._kernel.version}"
        return versions

    def factors(self, ctx: RunContext) -> dict:
        """Configured factors; run()'s outcome adds what was applied (accelerator, pinning map,
        kernel, disk, scratch_applied and the scratch disk, qemu command, kernel command line,
        boot/shutdown times)."""
        opts = ctx.settings
        return {
            "vcpus": int(opts["vcpus"] or ctx.copies),
            "cpu_model": opts["cpu_model"],
            "pin_vcpus": opts["pin_vcpus"],
            "memory_mb": opts["memory_mb"],
            "network": "none (no network device)",
            "user": f"{PAYLOAD_UID}:{PAYLOAD_GID}",
            "no_new_privileges": True,
            "qemu_user": opts["qemu_user"],
            "qemu_sandbox": SANDBOX,
            "rootfs": "image rootfs as a read-only ext4 virtio disk; /tmp and /dev/shm tmpfs",
            "share": f"run dir over virtio-9p at {RUN_MOUNT}, security_model={NINE_P_SECURITY_MODEL}",
            "scratch": opts["scratch"],
            "copies_per_container": "all copies in one guest",
            "startup_samples": "startup payload: one fresh guest per copy and sample, 1 vCPU unless vcpus "
                               "is set, not pinned",
        }

    # --- one run ---------------------------------------------------------------------

    def _artefacts(self, ctx: RunContext):
        cache_dir = ctx.mode.cache_dir
        kern = vmimage.kernel(cache_dir)
        initrd, initrd_meta = vmimage.initramfs(cache_dir, kern)
        disk, disk_meta = vmimage.disk_image(ctx.image_ref, cache_dir)
        return kern, initrd, initrd_meta, disk, disk_meta

    def _scratch(self, ctx: RunContext, name: str, user: pwd.struct_passwd) -> tuple[Path | None, dict]:
        """The run's scratch disk (module docstring), made now when `scratch: virtio-disk` and the
        payload declares scratch needs: (its path or None, the factors saying what was applied)."""
        if ctx.settings["scratch"] != "virtio-disk":
            return None, {"scratch_applied": "9p"}
        if ctx.scratch_bytes is None:
            return None, {"scratch_applied": "9p", "scratch_note": (
                f"payload {ctx.payload!r} declares no scratch space (Payload.scratch_bytes): no disk attached, "
                "its copies work on the 9p share")}
        path = vmimage.scratch_dir(ctx.mode.cache_dir) / f"{name}.img"
        made = vmimage.scratch_disk(path, vmimage.scratch_size_bytes(ctx.scratch_bytes, ctx.copies),
                                    user.pw_uid, user.pw_gid)
        cache, why = "none", "host O_DIRECT (cache=none)"
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_DIRECT))
        except OSError as err:  # e.g. tmpfs before Linux 6.6: qemu could not open it with cache=none
            cache, why = "writeback", f"the host file system refuses O_DIRECT ({err.strerror}): host page cache"
        return path, {"scratch_applied": "virtio-disk", "scratch_disk": dict(
            made, path=str(path), per_copy_bytes=ctx.scratch_bytes, mount_point=SCRATCH_MOUNT,
            device=f"virtio-blk-pci serial={vmimage.SCRATCH_SERIAL} addr={SCRATCH_PCI_ADDR}", cache=cache,
            cache_why=why, kept="no: removed when the run ends")}

    def run(self, ctx: RunContext) -> RunOutcome:
        if ctx.needs_network:
            raise ModeError("vm mode gives guests no network device; this payload needs one")
        out_dir = ctx.out_dir
        availability = self._accel(ctx.mode)
        factors = self.factors(ctx)
        user = qemu_user(ctx.settings)
        name = environment_name(ctx)
        left = kill_guests(name)  # an earlier attempt's guest of this run (its harness was killed)
        prepare_run_dir(out_dir, user.pw_uid, user.pw_gid)  # qemu writes the share as this user
        check_reachable(user, out_dir)
        kern, initrd, initrd_meta, disk, disk_meta = self._artefacts(ctx)
        scratch, scratch_factors = self._scratch(ctx, name, user)
        with scratch_removed(scratch):
            copies = list(range(ctx.copies))
            guest_command = {
                # start-at 0 is a placeholder: the guest sets it from its own clock (GUEST_BARRIER_S)
                "argv": launcher_argv(ctx, copies, 0.0, pin=False, scratch=SCRATCH_MOUNT if scratch else None),
                "env": image_environment(disk_meta, path=GUEST_PATH),
                "cwd": RUN_MOUNT, "uid": PAYLOAD_UID, "gid": PAYLOAD_GID,
                "log": f"{RUN_MOUNT}/launcher-0.log", "start_in_s": GUEST_BARRIER_S[availability.accel],
            }
            cmdline = kernel_cmdline("run", guest_command, vmimage.SCRATCH_SERIAL if scratch else None)
            out = out_dir.resolve()
            with tempfile.TemporaryDirectory(prefix="execbench-vm-") as tmp:
                qmp = give_to(Path(tmp), user) / "qmp.sock" if factors["pin_vcpus"] else None
                argv = qemu_argv(name=name, kernel=kern.vmlinuz, initrd=str(initrd),
                                 cmdline=cmdline, accel=availability.accel, cpu_model=factors["cpu_model"],
                                 vcpus=factors["vcpus"], memory_mb=factors["memory_mb"], console=out / CONSOLE_LOG,
                                 qmp=qmp, disk=disk, share=out, scratch=scratch,
                                 scratch_cache=scratch_factors.get("scratch_disk", {}).get("cache", "none"))
                factors.update(
                    accel=availability.accel, emulated=availability.emulated,
                    cpu_model_applied=cpu_args(availability.accel, factors["cpu_model"])[-1],
                    kernel=kern.record(), initramfs={k: initrd_meta[k] for k in ("key", "sha256", "size_bytes", "modules")},
                    disk={"digest": disk_meta["digest"], "size_bytes": disk_meta["size_bytes"],
                          "format": "raw ext4, read-only"},
                    kernel_cmdline=cmdline, guest_command=guest_command,
                    qemu_command=argv, **scratch_factors)
                outcome = boot_guest(argv, out / CONSOLE_LOG, out / QEMU_LOG, qmp=qmp,
                                     ready_timeout_s=BOOT_TIMEOUT_S, run_timeout_s=ctx.timeout_s + HOST_GRACE_S,
                                     user=user)
            factors["leftover_guests_killed"] = left
            factors.update(
                vcpu_pinning={"done": outcome.pinning is not None, "map": outcome.pinning or {}},
                boot_to_ready_s=outcome.boot_to_ready_s, shutdown_s=outcome.shutdown_s, guest_run_s=outcome.run_s,
                guest_exit=outcome.guest_rc, guest_failure=outcome.failure, killed_by_host=outcome.killed)
            atomic_write_text(out / DETAIL_FILE, json.dumps(factors, indent=1, default=str) + "\n")
            killed = set(copies) if outcome.killed else set()
            results = collect(out_dir, ctx.copies, {i: outcome.guest_rc for i in copies}, killed)
            if outcome.failure:
                results = [replace(r, detail=f"{r.detail}; {outcome.failure}"[:1500])
                           if r.exit_code is None or r.timed_out else r for r in results]
            return RunOutcome(results, factors, emulated=availability.emulated)

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """Boot a fresh guest, run argv in it as uid 10001, power it off: host seconds from
        qemu start to qemu exit, with the boot-to-ready and shutdown phases. Not pinned:
        the startup payload boots `copies` guests at once, and pinning each one's vCPU 0
        to core 0 would serialise them."""
        availability = self._accel(ctx.mode)
        opts = ctx.settings
        kern, initrd, _, disk, disk_meta = self._artefacts(ctx)
        guest_command = {"argv": list(argv), "env": image_environment(disk_meta, path=GUEST_PATH), "cwd": "/",
                         "uid": PAYLOAD_UID, "gid": PAYLOAD_GID, "log": None, "start_in_s": None}
        user = qemu_user(opts)
        with tempfile.TemporaryDirectory(prefix="execbench-vm-start-") as tmp:
            console, log = give_to(Path(tmp), user) / CONSOLE_LOG, Path(tmp) / QEMU_LOG
            qemu = qemu_argv(name=environment_name(ctx, "startup"), kernel=kern.vmlinuz, initrd=str(initrd),
                             cmdline=kernel_cmdline("exec", guest_command), accel=availability.accel,
                             cpu_model=opts["cpu_model"], vcpus=int(opts["vcpus"] or 1),
                             memory_mb=opts["memory_mb"], console=console, disk=disk)
            t0 = time.monotonic()
            outcome = boot_guest(qemu, console, log, qmp=None, ready_timeout_s=BOOT_TIMEOUT_S,
                                 run_timeout_s=ctx.timeout_s, user=user)
            total = time.monotonic() - t0
            if outcome.failure or outcome.guest_rc != 0:
                raise ModeError(f"startup guest: {outcome.failure or f'argv exited {outcome.guest_rc}'}; "
                                f"console: {_tail(console, 300)!r}")
        return StartupSample(total, {"boot_to_ready_s": outcome.boot_to_ready_s, "shutdown_s": outcome.shutdown_s})
