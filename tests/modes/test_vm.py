"""VM mode: readiness check, a real TCG guest booted from the test image's rootfs, faults.

The guests are real (qemu, Debian's kernel, the image pulled by digest from the local
registry); only the accelerator is TCG, because this host's /dev/kvm is a nested
software layer (PVM) on which KVM guests cannot boot.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import ArgvPayload, make_config, mode_context

from execbench.config import RunCell, mode_settings
from execbench.layout import instance_tag
from execbench.modes import vm, vmimage
from execbench.modes.base import ModeError
from execbench.paths import INIMAGE
from execbench.runner import run_cell

PVM_HOST = Path("/sys/module/kvm_pvm").exists()
VM_SETTINGS = {"kind": "vm", "allow_emulation": True, "cpu_model": "host", "pin_vcpus": True,
               "memory_mb": 512, "enabled": True}


def _qemu_processes(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith(vm.QEMU) and marker in cmdline:
                found.append(int(proc.name))
    return found


def vm_user():
    return vm.qemu_user({"qemu_user": vm.DEFAULT_QEMU_USER})


def _vm_config(shared_dir: Path, name: str, image: dict, cache: Path, payloads: dict | None = None) -> dict:
    return make_config(shared_dir / name / "results", image, modes={"vm": dict(VM_SETTINGS)},
                       payloads=payloads or {"argv": {}}, cache=cache)


# --- pure functions: no guest ----------------------------------------------------------

def test_tcg_replaces_host_cpu_passthrough_and_kvm_keeps_the_configured_model():
    assert vm.cpu_args("kvm", "host") == ["-accel", "kvm", "-cpu", "host"]
    assert vm.cpu_args("kvm", "Skylake-Server") == ["-accel", "kvm", "-cpu", "Skylake-Server"]
    assert vm.cpu_args("tcg", "host") == ["-accel", "tcg", "-cpu", "max"]


def test_qemu_command_has_no_network_a_read_only_disk_and_only_the_run_dir_shared(tmp_path):
    argv = vm.qemu_argv(name="t", kernel="/k", initrd="/i", cmdline="console=ttyS0", accel="tcg",
                        cpu_model="host", vcpus=2, memory_mb=512, console=tmp_path / "c.log",
                        qmp=tmp_path / "q.sock", disk=tmp_path / "d.ext4", share=tmp_path / "run")
    assert argv[argv.index("-nic") + 1] == "none"
    assert "-nodefaults" in argv and "-netdev" not in argv
    assert argv[argv.index("-drive") + 1] == f"file={tmp_path / 'd.ext4'},format=raw,if=virtio,readonly=on"
    assert [a for a in argv if a.startswith("local,")] == [
        f"local,path={tmp_path / 'run'},mount_tag=run,security_model=mapped-xattr"]
    assert argv[argv.index("-smp") + 1] == "2" and argv[argv.index("-m") + 1] == "512"
    assert "-S" in argv  # paused until the vCPU threads are pinned
    assert argv[argv.index("-sandbox") + 1].startswith("on,") and "elevateprivileges=deny" in argv[argv.index("-sandbox") + 1]


def test_a_scratch_disk_is_attached_read_write_by_its_serial_and_the_root_disk_stays_first_and_read_only(tmp_path):
    argv = vm.qemu_argv(name="t", kernel="/k", initrd="/i", cmdline="console=ttyS0", accel="tcg",
                        cpu_model="host", vcpus=1, memory_mb=512, console=tmp_path / "c.log",
                        disk=tmp_path / "d.ext4", share=tmp_path / "run", scratch=tmp_path / "s,1.img")
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert drives == [f"file={tmp_path / 'd.ext4'},format=raw,if=virtio,readonly=on",
                      f"file={tmp_path / 's,,1.img'},format=raw,if=none,id=scratch,cache=none"]
    assert argv[argv.index("-device") + 1] == "virtio-blk-pci,drive=scratch,serial=execbench-scratch,addr=0x10"
    writeback = vm.qemu_argv(name="t", kernel="/k", initrd="/i", cmdline="", accel="tcg", cpu_model="host", vcpus=1,
                             memory_mb=512, console=tmp_path / "c.log", scratch=tmp_path / "s.img",
                             scratch_cache="writeback")
    assert f"file={tmp_path / 's.img'},format=raw,if=none,id=scratch,cache=writeback" in writeback
    plain = vm.qemu_argv(name="t", kernel="/k", initrd="/i", cmdline="", accel="tcg", cpu_model="host", vcpus=1,
                         memory_mb=512, console=tmp_path / "c.log", disk=tmp_path / "d.ext4")
    assert "-device" not in plain and not any("id=scratch" in a for a in plain)
    assert "execbench.scratch=execbench-scratch" in vm.kernel_cmdline("run", {"argv": []}, "execbench-scratch").split()
    assert "execbench.scratch" not in vm.kernel_cmdline("run", {"argv": []})


def test_the_scratch_disk_fits_every_copys_data_with_room_for_ext4():
    mib = 1 << 20
    assert vmimage.scratch_size_bytes(16 * mib, 1) == 20 * mib + vmimage.SCRATCH_SLACK_BYTES
    assert vmimage.scratch_size_bytes(1 << 30, 2) == 2560 * mib + vmimage.SCRATCH_SLACK_BYTES
    assert vmimage.scratch_size_bytes(1, 1) % mib == 0 and vmimage.scratch_size_bytes(1, 1) > vmimage.SCRATCH_SLACK_BYTES
    from execbench.payloads.fio import Fio
    assert Fio().scratch_bytes({"size": "smoke", "buffered": False}) == 16 * mib  # fio_run.SIZES: one 16M file
    assert Fio().scratch_bytes({"size": "standard", "buffered": False}) == 1 << 30


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a file for the qemu user (chown needs root)")
def test_a_scratch_disk_is_a_fresh_sparse_ext4_of_the_qemu_user_and_nobody_else(tmp_path):
    user = vm_user()
    base = vmimage.scratch_dir(tmp_path / "cache")
    assert base.stat().st_mode & 0o7777 == 0o711 and base.stat().st_uid == 0  # only root makes entries
    disk = base / "execbench-x-fio-vm-1c-r1.img"
    disk.symlink_to(tmp_path / "victim")  # an earlier attempt's leftover, or a planted link: replaced, never followed
    size = vmimage.scratch_size_bytes(16 << 20, 1)
    made = vmimage.scratch_disk(disk, size, user.pw_uid, user.pw_gid)
    st = disk.lstat()
    assert not (tmp_path / "victim").exists() and not disk.is_symlink()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (user.pw_uid, user.pw_gid, 0o600)
    assert st.st_size == size == made["size_bytes"] and st.st_blocks * 512 < size // 2  # sparse
    assert made["fs"] == "ext4" and "has_journal" in made["features"] and made["block_size"] == 4096
    assert made["journal_size"]  # e.g. "16M"
    stat_root = subprocess.run(["debugfs", "-R", "stat /", str(disk)], capture_output=True, text=True).stdout
    assert "User: 10001" in stat_root  # the payload user's, so copies can make their dirs
    label = subprocess.run(["e2label", str(disk)], capture_output=True, text=True).stdout.strip()
    assert label == vmimage.SCRATCH_LABEL


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a file for the qemu user (chown needs root)")
def test_scratch_applies_only_as_configured_and_only_to_a_payload_with_scratch_needs(tmp_path):
    from helpers import run_context

    def context(scratch, scratch_bytes):
        ctx = run_context({"reference": ""}, "vm", ["true"], tmp_path / "run",
                          settings={"allow_emulation": True, "scratch": scratch}, cache=tmp_path / "cache")
        return replace(ctx, scratch_bytes=scratch_bytes)

    mode = vm.VmMode()
    assert mode._scratch(context("9p", 16 << 20), "n", vm_user()) == (None, {"scratch_applied": "9p"})
    path, factors = mode._scratch(context("virtio-disk", None), "n", vm_user())
    assert path is None and factors["scratch_applied"] == "9p" and "declares no scratch space" in factors["scratch_note"]
    ctx = context("virtio-disk", 16 << 20)
    assert mode.factors(ctx)["scratch"] == "virtio-disk"
    path, factors = mode._scratch(ctx, "execbench-t-probe", vm_user())
    with vm.scratch_removed(path):
        assert path == tmp_path.resolve() / "cache/vm/scratch/execbench-t-probe.img" and path.is_file()
        disk = factors["scratch_disk"]
        assert factors["scratch_applied"] == "virtio-disk" and disk["per_copy_bytes"] == 16 << 20
        assert disk["cache"] in ("none", "writeback") and disk["mount_point"] == "/execbench/scratch"
    assert not path.exists()  # removed when the run ends


def test_kernel_command_line_over_the_kernel_limit_is_refused():
    with pytest.raises(ModeError, match="over the kernel's 2047"):
        vm.kernel_cmdline("run", {"argv": ["x" * 2000]})


def test_guest_command_round_trips_through_the_kernel_command_line():
    command = {"argv": ["python3", "-c", "print('a b')"], "env": {"LANG": "C.UTF-8"}}
    line = vm.kernel_cmdline("run", command)
    encoded = line.split("execbench.cmd=", 1)[1]
    assert " " not in encoded
    import base64

    assert json.loads(base64.b64decode(encoded)) == command


# --- real guests -------------------------------------------------------------------------

def test_guest_modules_load_dependencies_first(vm_cache):
    kern = vmimage.kernel(vm_cache)
    order = [p.stem for p in vmimage.module_load_order(kern.modules_dir, ["9p", "ext4"])]
    # 9p depends on 9pnet, fscache (which depends on netfs) and netfs; ext4 on jbd2, mbcache, crc16
    assert order.index("netfs") < order.index("fscache") < order.index("9p")
    assert order.index("9pnet") < order.index("9p")
    assert {"jbd2", "mbcache", "crc16"} < set(order[:order.index("ext4")])


@pytest.mark.skipif(not PVM_HOST, reason="needs this kind of host: /dev/kvm backed by the kvm_pvm nested layer")
def test_readiness_reports_kvm_unusable_here_within_its_timeout(vm_cache):
    (vm_cache / "vm" / "readiness.json").unlink(missing_ok=True)
    t0 = time.monotonic()
    availability = vm.VmMode().available(mode_context("vm", {"allow_emulation": False}, cache=vm_cache))
    elapsed = time.monotonic() - t0
    assert not availability.ok
    assert "KVM guests cannot boot" in availability.reason and "allow_emulation" in availability.reason
    assert elapsed < vm.READINESS_TIMEOUT_S + 30  # the kernel may be fetched on a cold cache
    verdicts = json.loads((vm_cache / "vm" / "readiness.json").read_text())
    assert verdicts["kvm:host"]["ok"] is False
    assert verdicts["kvm:host"]["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    # the verdict is cached: asking again boots nothing
    t1 = time.monotonic()
    again = vm.readiness(vm_cache, "kvm", "host", vm.qemu_user(mode_settings("vm", {})))
    assert again["cached"] is True and again["ok"] is False and time.monotonic() - t1 < 5


@pytest.mark.skipif(not PVM_HOST, reason="needs this kind of host: /dev/kvm backed by the kvm_pvm nested layer")
def test_readiness_kills_a_kvm_guest_that_hangs_in_early_boot_at_its_timeout(vm_cache, monkeypatch):
    # With a named CPU model (qemu64) qemu starts here, but the KVM guest never prints a line.
    monkeypatch.setattr(vm, "READINESS_TIMEOUT_S", 8.0)
    vmimage.initramfs(vm_cache, vmimage.kernel(vm_cache))  # fetch/build outside the timed part
    t0 = time.monotonic()
    verdict = vm.readiness(vm_cache, "kvm", "qemu64", vm.qemu_user(mode_settings("vm", {})))
    elapsed = time.monotonic() - t0
    assert verdict["ok"] is False and verdict["cached"] is False
    if "not read-writable by user" in verdict["reason"]:  # /dev/kvm's permissions are the site's (setup leaves them)
        pytest.skip(f"the qemu user cannot open /dev/kvm here: {verdict['reason']}")
    assert "did not reach its ready line within 8 s" in verdict["reason"]
    assert 8.0 <= verdict["seconds"] < elapsed + 0.1 and elapsed < 8.0 + 10  # killed at the timeout, not later
    assert _qemu_processes("execbench-readiness") == []


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="asserts the TCG fallback, taken only where KVM cannot boot")
def test_tcg_guest_runs_the_launcher_in_the_image_rootfs_and_logs_come_back(modes_image, shared_dir, vm_cache):
    probe = ("import json, os; open('probe.json', 'w').write(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), "
             "'cwd': os.getcwd(), 'root_writable': os.access('/usr', os.W_OK), "
             "'os_release': open('/etc/os-release').read(), 'nproc': len(os.sched_getaffinity(0))}))")
    config = _vm_config(shared_dir, "vm-ok", modes_image, vm_cache)
    record = run_cell(config, RunCell("argv", "vm", 1, 1), payload=ArgvPayload(["python3", "-c", probe]))
    run_dir = Path(config["results"]) / "raw" / "argv" / "vm" / "1c" / "r1"

    assert record["status"] == "ok", record["reason"]
    assert record["emulated"] is True
    assert record["reason"].startswith("emulated (TCG) — not comparable to bare metal")
    factors = record["factors"]
    assert factors["accel"] == "tcg" and factors["cpu_model_applied"] == "max"
    assert factors["qemu_command"][0] == "qemu-system-x86_64" and "tcg" in factors["qemu_command"]
    assert factors["kernel_cmdline"].startswith("console=ttyS0") and "execbench.mode=run" in factors["kernel_cmdline"]
    assert factors["kernel"]["package"].startswith("linux-image-") and len(factors["kernel"]["deb_sha256"]) == 64
    assert factors["disk"]["digest"] == modes_image["digest"]
    assert factors["vcpus"] == 1 and factors["vcpu_pinning"]["done"] is True
    assert len(factors["vcpu_pinning"]["map"]) == 1
    assert factors["boot_to_ready_s"] > 0 and factors["shutdown_s"] >= 0
    # the payload ran in the image as the payload user, in its copy dir on the share
    probe_out = json.loads((run_dir / "copy0" / "probe.json").read_text())
    assert probe_out == {**probe_out, "uid": 10001, "gid": 10001, "cwd": "/execbench/run/copy0",
                         "root_writable": False, "nproc": 1}
    assert 'VERSION_ID="12"' in probe_out["os_release"]
    assert (run_dir / "copy0" / "probe.json").stat().st_uid == 0  # sealed: root's, read-only
    launch = json.loads((run_dir / "copy0" / "launch.json").read_text())
    assert launch["exit_code"] == 0 and launch["timed_out"] is False
    console = (run_dir / "console.log").read_text()
    assert vmimage.READY_LINE in console and "EXECBENCH-DONE rc=0" in console
    assert json.loads((run_dir / "vm.json").read_text())["guest_exit"] == 0
    # the default scratch: the copy's own dir on the 9p share, and the copy says so from inside
    assert factors["scratch"] == "9p" and factors["scratch_applied"] == "9p" and "scratch_disk" not in factors
    seen = record["copies_result"][0]["environment"]["scratch_fs"]
    assert (seen["fstype"], seen["source"], seen["mount_point"]) == ("9p", "run", "/execbench/run")
    # over 9P2000.L the guest's statfs passes the host's file system type on: the mount type tells 9p
    sys.path.insert(0, str(INIMAGE))
    try:
        from execbench_launch import filesystem_of
    finally:
        sys.path.remove(str(INIMAGE))
    assert seen["statfs_magic"] == filesystem_of(str(run_dir))["statfs_magic"]


class ScratchProbe(ArgvPayload):
    """An I/O payload's shape: data into $EXECBENCH_SCRATCH, its own log into its copy dir."""

    def scratch_bytes(self, settings) -> int:
        return 8 << 20


SCRATCH_PROBE = ("import json, os; d = os.environ['EXECBENCH_SCRATCH']; fd = os.open(d + '/data', "
                 "os.O_WRONLY | os.O_CREAT); os.write(fd, b'x' * (4 << 20)); os.fsync(fd); os.close(fd); "
                 "open('probe.json', 'w').write(json.dumps({'scratch': d, 'cwd': os.getcwd(), "
                 "'owner': os.stat(d).st_uid, 'data_bytes': os.stat(d + '/data').st_size}))")


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="boots a TCG guest (only TCG boots on this kind of host)")
def test_tcg_guest_with_scratch_virtio_disk_gives_copies_an_ext4_disk_and_each_copy_records_it(
        modes_image, shared_dir, vm_cache):
    """scratch: virtio-disk: the copy's data go to a fresh ext4 virtio disk (/dev/vdb, the root
    disk stays /dev/vda), its log comes back over the share, the copy's fingerprint names the
    file system it wrote to, run.json says configured and applied, and the disk file is gone."""
    config = _vm_config(shared_dir, "vm-scratch", modes_image, vm_cache)
    config["modes"]["vm"]["scratch"] = "virtio-disk"
    record = run_cell(config, RunCell("argv", "vm", 1, 1), payload=ScratchProbe(["python3", "-c", SCRATCH_PROBE]))
    run_dir = Path(config["results"]) / "raw" / "argv" / "vm" / "1c" / "r1"

    assert record["status"] == "ok", record["reason"]
    assert record["emulated"] is True and record["factors"]["accel"] == "tcg"
    factors = record["factors"]
    assert record["mode_settings"]["scratch"] == factors["scratch"] == factors["scratch_applied"] == "virtio-disk"
    disk = factors["scratch_disk"]
    assert disk["size_bytes"] == vmimage.scratch_size_bytes(8 << 20, 1) and disk["fs"] == "ext4"
    assert "execbench.scratch=execbench-scratch" in factors["kernel_cmdline"]
    assert not Path(disk["path"]).exists()  # removed when the run ended
    probe = json.loads((run_dir / "copy0" / "probe.json").read_text())
    assert probe == {"scratch": "/execbench/scratch/copy0", "cwd": "/execbench/run/copy0", "owner": 10001,
                     "data_bytes": 4 << 20}
    seen = record["copies_result"][0]["environment"]["scratch_fs"]
    assert (seen["statfs_type"], seen["statfs_magic"], seen["fstype"]) == ("ext2/ext3/ext4", "0xef53", "ext4")
    assert seen["mount_point"] == "/execbench/scratch" and seen["source"].startswith("/dev/vd")
    assert seen["source"] != "/dev/vda" and "nosuid" in seen["options"] and "nodev" in seen["options"]
    launch = json.loads((run_dir / "copy0" / "launch.json").read_text())
    assert launch["scratch_dir"] == "/execbench/scratch/copy0" and launch["exit_code"] == 0
    assert "EXECBENCH-DONE rc=0" in (run_dir / "console.log").read_text()


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="asserts the TCG fallback, taken only where KVM cannot boot")
def test_hung_guest_is_killed_at_the_timeout_with_its_console_log_kept(modes_image, shared_dir, vm_cache, monkeypatch):
    # The payload stops its own launcher (SIGSTOP), so nothing inside the guest enforces
    # the timeout any more: the guest hangs from the host's point of view.
    monkeypatch.setattr(vm, "HOST_GRACE_S", 3.0)
    config = _vm_config(shared_dir, "vm-hang", modes_image, vm_cache)
    hang = ArgvPayload(["sh", "-c", "kill -STOP $PPID; sleep 600"], timeout_s=4.0)
    t0 = time.monotonic()
    record = run_cell(config, RunCell("argv", "vm", 1, 1), payload=hang)
    elapsed = time.monotonic() - t0
    run_dir = Path(config["results"]) / "raw" / "argv" / "vm" / "1c" / "r1"

    assert record["status"] == "failed"
    assert record["copies_result"][0]["timed_out"] is True
    assert "killed by the host" in record["reason"] and "console.log" in record["reason"]
    assert record["factors"]["killed_by_host"] is True
    console = (run_dir / "console.log").read_text()
    assert vmimage.READY_LINE in console and vmimage.DONE_LINE not in console
    assert elapsed < vm.BOOT_TIMEOUT_S  # killed at timeout + grace after ready, not at some later stage
    assert _qemu_processes("-argv-vm-1c-r1") == []


@pytest.mark.skipif(not PVM_HOST, reason="asserts the TCG fallback, taken only where KVM cannot boot")
def test_panicking_guest_ends_at_once_as_a_failure_with_the_panic_on_its_console(vm_cache, shared_dir):
    # A real kernel panic: no init at the path we name and no root= to fall back on.
    kern = vmimage.kernel(vm_cache)
    initrd, _ = vmimage.initramfs(vm_cache, kern)
    work = shared_dir / "panic"
    work.mkdir()
    vm.give_to(work, vm_user())  # qemu (as the vm user) writes the console there
    console, log = work / "console.log", work / "qemu.log"
    argv = vm.qemu_argv(name="execbench-panic-test", kernel=kern.vmlinuz, initrd=str(initrd),
                        cmdline="console=ttyS0 panic=-1 rdinit=/no-such-init", accel="tcg", cpu_model="host",
                        vcpus=1, memory_mb=256, console=console)
    outcome = vm.boot_guest(argv, console, log, qmp=None, ready_timeout_s=vm.BOOT_TIMEOUT_S, run_timeout_s=60,
                            user=vm_user())
    assert outcome.boot_to_ready_s is None and outcome.killed is False  # qemu ended by itself
    assert "during boot" in outcome.failure and "console.log" in outcome.failure
    assert "Kernel panic" in console.read_text()


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="asserts the TCG fallback, taken only where KVM cannot boot")
def test_startup_payload_samples_vm_boot_and_shutdown_parses_and_is_flagged_in_the_table(
        modes_image, shared_dir, vm_cache):
    from execbench.parse import write_parsed
    from execbench.payloads.startup import Startup
    from execbench.tables import EMULATED_FLAG, load_parsed_runs, relative_table

    config = make_config(shared_dir / "vm-startup" / "results", modes_image, payloads={"startup": {"samples": 1}},
                         modes={"vm": dict(VM_SETTINGS),
                                "bare": {"kind": "bare", "variant": "image-rootfs", "cpuset": "none", "enabled": True}},
                         cache=vm_cache)
    parsed = []
    for mode in ("bare", "vm"):
        record = run_cell(config, RunCell("startup", mode, 1, 1))
        assert record["status"] == "ok", record["reason"]
        run_dir = Path(config["results"]) / "raw" / "startup" / mode / "1c" / "r1"
        parsed.append(write_parsed(run_dir, shared_dir / "vm-startup" / "parsed" / f"{mode}.json"))
    assert [p["run"]["emulated"] for p in parsed] == [False, True]

    records = {(r.metric, r.copy): r for r in Startup().parse(run_dir)}  # the vm run
    latency = records[("latency_median", None)]
    boot = records[("boot_to_ready_median", None)]
    shutdown = records[("shutdown_median", None)]
    assert latency.status == boot.status == shutdown.status == "ok"
    # boot-to-ready and shutdown are parts of the whole start-run-stop sample
    assert 0 < boot.value < latency.value and 0 <= shutdown.value < latency.value

    runs = load_parsed_runs(sorted((shared_dir / "vm-startup" / "parsed").glob("*.json")))
    table, _ = relative_table(runs.measurements)
    row = table[(table["mode"] == "vm") & (table["metric"] == "latency_median")].iloc[0]
    assert bool(row["emulated"]) is True and row["flag"] == EMULATED_FLAG


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="runs the guest under TCG, taken only where KVM cannot boot")
def test_a_named_cpu_model_hides_instruction_sets_and_the_fingerprint_says_so(modes_image, shared_dir, vm_cache):
    """cpu_model qemu64 (a named model, canonical/packer-maas#54): the guest's userland sees the
    x86-64 baseline and none of the host's AVX; its own kernel and clocksource are recorded."""
    config = _vm_config(shared_dir, "vm-qemu64", modes_image, vm_cache)
    config["modes"]["vm"]["cpu_model"] = "qemu64"
    record = run_cell(config, RunCell("argv", "vm", 1, 1), payload=ArgvPayload(["true"]))
    assert record["status"] == "ok", record["reason"]
    assert record["factors"]["cpu_model_applied"] == "qemu64"
    seen = record["copies_result"][0]["environment"]
    assert seen["isa_level"] == "x86-64"
    from execbench.isa import cpu_flags
    assert {"avx", "avx2"} & set(cpu_flags()) <= set(seen["cpu_flags_not_seen"])
    assert seen["kernel"] != os.uname().release  # the guest's kernel, not the host's
    assert seen["clocksource"]  # whatever the guest picked, recorded
# --- a guest that cannot be turned against the host (issue 13, R6, R9, R11) -------------------

def _status(pid: int) -> dict:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def test_paths_with_commas_reach_qemu_whole(vm_cache, shared_dir):
    """R9: a ',' in a path must not split qemu's option strings (console, share, QMP socket)."""
    kern = vmimage.kernel(vm_cache)
    initrd, _ = vmimage.initramfs(vm_cache, kern)
    work = shared_dir / "comma,dir,server=off"
    work.mkdir()
    vm.give_to(work, vm_user())
    argv = vm.qemu_argv(name="execbench-comma-test", kernel=kern.vmlinuz, initrd=str(initrd),
                        cmdline="console=ttyS0", accel="tcg", cpu_model="host", vcpus=1, memory_mb=256,
                        console=work / "console,x.log", qmp=work / "q,s.sock", share=work)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=vm.as_qemu_user(vm_user()))
    try:
        client = vm.Qmp(work / "q,s.sock", proc)  # the socket has its whole name
        assert client.execute("query-status")["status"] == "prelaunch"  # paused (-S), share and console open
        client.execute("quit")
        client.close()
        assert proc.wait(timeout=60) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (work / "console,x.log").is_file()


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="boots a TCG guest (only TCG boots on this kind of host)")
def test_r11_qemu_runs_unprivileged_and_sandboxed_and_its_share_makes_no_privileged_file(
        modes_image, shared_dir, vm_cache):
    """R11: the guest's payload copies a shell and makes it setuid on the 9p share; on the host
    the file is the qemu user's and carries no setuid bit. qemu is not root, has no new
    privileges and runs under seccomp (its sandbox)."""
    from helpers import run_context

    out = shared_dir / "vm-r11"
    script = "cp /bin/sh setuid-sh && chmod 4755 setuid-sh && stat -c %a:%u setuid-sh && sleep 3"
    ctx = run_context(modes_image, "vm", ["sh", "-c", script], out,
                      settings={k: v for k, v in VM_SETTINGS.items() if k not in ("kind", "enabled")},
                      cache=vm_cache, timeout_s=120)
    mode, seen = vm.VmMode(), {}
    name = vm.environment_name(ctx)
    worker = threading.Thread(target=lambda: seen.update(outcome=mode.run(ctx)))
    worker.start()
    while worker.is_alive() and seen.get("qemu", {}).get("Seccomp", "").strip() != "2":  # set up at its start
        for pid in vm.guest_pids(name):
            with contextlib.suppress(OSError):
                seen["qemu"] = _status(pid)
        time.sleep(0.1)
    worker.join()
    assert seen["outcome"].copies[0].exit_code == 0
    assert (out / "copy0/stdout.log").read_text().strip() == "4755:10001"  # what the guest sees
    host = (out / "copy0/setuid-sh").stat()
    assert host.st_uid == vm_user().pw_uid != 0 and not host.st_mode & 0o6000
    qemu = seen["qemu"]
    assert qemu["Uid"].split()[1] == str(vm_user().pw_uid) and int(qemu["CapEff"], 16) == 0
    assert qemu["NoNewPrivs"].strip() == "1" and qemu["Seccomp"].strip() == "2"


VM_DRIVER = """
import json, sys
sys.path.insert(0, {tests!r})
from helpers import ArgvPayload
from execbench.config import RunCell
from execbench.runner import run_cell
config = json.loads(open({config!r}).read())
run_cell(config, RunCell("argv", "vm", 1, 1), payload=ArgvPayload(json.loads(sys.argv[1]), timeout_s=600))
"""


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="boots TCG guests (only TCG boots on this kind of host)")
def test_r6_a_killed_harness_leaves_no_guest_measuring_and_the_rerun_removes_a_leftover(
        modes_image, shared_dir, vm_cache):
    """R6: kill -9 of the harness's process group while its guest runs the payload: the guest
    dies with it (parent-death signal). A guest of the same run left by other means (started
    here, outside any harness) is killed by the rerun before its own guest starts."""
    config = _vm_config(shared_dir, "vm-r6", modes_image, vm_cache)
    config_file = shared_dir / "vm-r6" / "config.json"
    config_file.write_text(json.dumps(config))
    driver = shared_dir / "vm-r6" / "driver.py"
    driver.write_text(VM_DRIVER.format(tests=str(Path(__file__).parents[1]), config=str(config_file)))
    run_dir = Path(config["results"]) / "raw/argv/vm/1c/r1"
    harness = subprocess.Popen([sys.executable, str(driver), json.dumps(["sh", "-c", "echo started; sleep 600"])],
                               start_new_session=True)
    marker = run_dir / "copy0" / "stdout.log"
    deadline = time.monotonic() + vm.BOOT_TIMEOUT_S + 60
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline and harness.poll() is None, "the guest never started its payload"
        time.sleep(0.5)
    guests = _qemu_processes("-argv-vm-1c-r1")
    assert len(guests) == 1
    os.killpg(harness.pid, signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 60
    while _qemu_processes("-argv-vm-1c-r1") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _qemu_processes("-argv-vm-1c-r1") == []  # no orphan measuring on

    # a leftover guest of this very run (its name), which no harness will kill
    kern = vmimage.kernel(vm_cache)
    initrd, _ = vmimage.initramfs(vm_cache, kern)
    name = f"execbench-{instance_tag(config['results'])}-argv-vm-1c-r1"
    spare = shared_dir / "vm-r6" / "leftover"
    spare.mkdir()
    vm.give_to(spare, vm_user())
    leftover = subprocess.Popen(vm.qemu_argv(name=name, kernel=kern.vmlinuz, initrd=str(initrd), cmdline="console=ttyS0",
                                             accel="tcg", cpu_model="host", vcpus=1, memory_mb=256,
                                             console=spare / "console.log") + ["-S"],
                                preexec_fn=lambda: os.setuid(vm_user().pw_uid))
    try:
        record = run_cell(config, RunCell("argv", "vm", 1, 1), payload=ArgvPayload(["echo", "redone"]))
        assert leftover.wait(timeout=60) == -signal.SIGKILL
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
    assert record["status"] == "ok", record["reason"]
    assert record["factors"]["leftover_guests_killed"] == [leftover.pid]
    assert (run_dir / "copy0/stdout.log").read_text() == "redone\n"
    assert Path(record["previous_attempt"], "copy0/stdout.log").read_text() == "started\n"
    assert _qemu_processes("-argv-vm-1c-r1") == []


@pytest.mark.docker
@pytest.mark.skipif(not PVM_HOST, reason="boots a TCG guest (only TCG boots on this kind of host)")
def test_sigterm_of_the_harness_kills_its_guest_and_writes_no_run_json(modes_image, shared_dir, vm_cache):
    """The kill matrix's SIGTERM in vm mode (allow_emulation): the way Snakemake stops a job, and
    the way a runner stops when its Snakemake is gone (R5). The guest is killed before the harness
    exits, no run.json claims a run, and the guest's half of the logs stays for the rerun to set aside."""
    config = _vm_config(shared_dir, "vm-term", modes_image, vm_cache)
    config_file = shared_dir / "vm-term" / "config.json"
    config_file.write_text(json.dumps(config))
    driver = shared_dir / "vm-term" / "driver.py"
    driver.write_text(VM_DRIVER.format(tests=str(Path(__file__).parents[1]), config=str(config_file)))
    run_dir = Path(config["results"]) / "raw/argv/vm/1c/r1"
    harness = subprocess.Popen([sys.executable, str(driver), json.dumps(["sh", "-c", "echo started; sleep 600"])],
                               stderr=subprocess.PIPE)
    marker = run_dir / "copy0" / "stdout.log"
    deadline = time.monotonic() + vm.BOOT_TIMEOUT_S + 60
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline and harness.poll() is None, "the guest never started its payload"
        time.sleep(0.5)
    assert len(_qemu_processes("-argv-vm-1c-r1")) == 1
    harness.send_signal(signal.SIGTERM)
    assert harness.wait(timeout=120) != 0
    assert _qemu_processes("-argv-vm-1c-r1") == []  # killed by the harness itself, not left to a sweep
    assert not (run_dir / "run.json").exists()
    assert marker.read_text() == "started\n"


def test_the_kvm_hint_follows_the_device_mode(tmp_path):
    # joining the device's group helps only when that group may read and write it
    from execbench.modes.vm import kvm_access_hint

    device = tmp_path / "kvm"
    device.write_text("")
    os.chown(device, 0, 65534)
    os.chmod(device, 0o660)
    assert kvm_access_hint("user execbench-vm", str(device)).endswith("add execbench-vm to group nogroup")
    os.chown(device, 0, 0)
    os.chmod(device, 0o600)
    hint = kvm_access_hint("user execbench-vm", str(device))
    assert "(-rw-------, group root)" in hint and "give the device a group that may read and write it" in hint
    assert kvm_access_hint("user execbench-vm", str(tmp_path / "none")).startswith("missing")
