"""VM mode: readiness check, a real TCG guest booted from the test image's rootfs, faults.

The guests are real (qemu, Debian's kernel, the image pulled by digest from the local
registry); only the accelerator is TCG, because this host's /dev/kvm is a nested
software layer (PVM) on which KVM guests cannot boot.
"""

from __future__ import annotations

import os
import json
import time
from pathlib import Path

import pytest
from helpers import ArgvPayload, make_config, mode_context

from execbench.config import RunCell
from execbench.modes import vm, vmimage
from execbench.modes.base import ModeError
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
        f"local,path={tmp_path / 'run'},mount_tag=run,security_model=none"]
    assert argv[argv.index("-smp") + 1] == "2" and argv[argv.index("-m") + 1] == "512"
    assert "-S" in argv  # paused until the vCPU threads are pinned


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
    again = vm.readiness(vm_cache, "kvm", "host")
    assert again["cached"] is True and again["ok"] is False and time.monotonic() - t1 < 5


@pytest.mark.skipif(not PVM_HOST, reason="needs this kind of host: /dev/kvm backed by the kvm_pvm nested layer")
def test_readiness_kills_a_kvm_guest_that_hangs_in_early_boot_at_its_timeout(vm_cache, monkeypatch):
    # With a named CPU model (qemu64) qemu starts here, but the KVM guest never prints a line.
    monkeypatch.setattr(vm, "READINESS_TIMEOUT_S", 8.0)
    vmimage.initramfs(vm_cache, vmimage.kernel(vm_cache))  # fetch/build outside the timed part
    t0 = time.monotonic()
    verdict = vm.readiness(vm_cache, "kvm", "qemu64")
    elapsed = time.monotonic() - t0
    assert verdict["ok"] is False and verdict["cached"] is False
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
    assert (run_dir / "copy0" / "probe.json").stat().st_uid == 10001  # written through 9p as that user
    launch = json.loads((run_dir / "copy0" / "launch.json").read_text())
    assert launch["exit_code"] == 0 and launch["timed_out"] is False
    console = (run_dir / "console.log").read_text()
    assert vmimage.READY_LINE in console and "EXECBENCH-DONE rc=0" in console
    assert json.loads((run_dir / "vm.json").read_text())["guest_exit"] == 0


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
    assert _qemu_processes("execbench-argv-vm-1c-r1") == []


@pytest.mark.skipif(not PVM_HOST, reason="asserts the TCG fallback, taken only where KVM cannot boot")
def test_panicking_guest_ends_at_once_as_a_failure_with_the_panic_on_its_console(vm_cache, tmp_path):
    # A real kernel panic: no init at the path we name and no root= to fall back on.
    kern = vmimage.kernel(vm_cache)
    initrd, _ = vmimage.initramfs(vm_cache, kern)
    console, log = tmp_path / "console.log", tmp_path / "qemu.log"
    argv = vm.qemu_argv(name="execbench-panic-test", kernel=kern.vmlinuz, initrd=str(initrd),
                        cmdline="console=ttyS0 panic=-1 rdinit=/no-such-init", accel="tcg", cpu_model="host",
                        vcpus=1, memory_mb=256, console=console)
    outcome = vm.boot_guest(argv, console, log, qmp=None, ready_timeout_s=vm.BOOT_TIMEOUT_S, run_timeout_s=60)
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
