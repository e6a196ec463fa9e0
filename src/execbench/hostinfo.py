"""Provenance of the machine a run happened on: the host part of run.json and the batch job around it."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

from .isa import cpu_flags, isa_level


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def os_release(path: Path = Path("/etc/os-release")) -> dict:
    """The host's /etc/os-release as a dict (values unquoted)."""
    out = {}
    try:
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key and not key.startswith("#"):
                out[key.strip()] = value.strip().strip('"').strip("'")
    except OSError:
        pass
    return out


def memory_total_kb(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cgroup_version() -> int:
    return 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1


def vulnerabilities(root: Path = Path("/sys/devices/system/cpu/vulnerabilities")) -> dict[str, str]:
    """The kernel's view of each CPU vulnerability and its mitigation (Linux admin-guide
    hw-vuln/: one file per vulnerability, one line each); {} where not exported."""
    try:
        return {p.name: p.read_text(errors="replace").strip() for p in sorted(root.iterdir()) if p.is_file()}
    except OSError:
        return {}


def _first_line(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def host_info() -> dict:
    """The host part of run.json (workflow/schemas/run.schema.json `host`)."""
    uname = platform.uname()
    release = os_release()
    flags = cpu_flags()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        # payload answers must not depend on these (isa.py); recorded so a reader can check
        "isa_level": isa_level(flags),
        "cpu_flags": flags,
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": len(os.sched_getaffinity(0)),
        "kernel": uname.release,
        "kernel_version": uname.version,
        "arch": uname.machine,
        "os": release.get("PRETTY_NAME", uname.system),
        "memory_kb": memory_total_kb(),
        "cgroup_version": cgroup_version(),
        # what the environment fingerprints (run.json copies_result[].environment) are compared with
        "vulnerabilities": vulnerabilities(),
        "kernel_cmdline": _first_line(Path("/proc/cmdline")) or "",
        "clocksource": _first_line(Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")),
        "virtualization": virtualization(flags),
    }


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


# DMI system vendor / product names of hypervisors (SMBIOS type 1, as systemd-detect-virt's
# src/basic/virt.c table): a guest without systemd-detect-virt is still found.
_DMI_HYPERVISORS = {"QEMU": "qemu", "KVM": "kvm", "VMware": "vmware", "VirtualBox": "oracle",
                    "innotek GmbH": "oracle", "Xen": "xen", "Microsoft Corporation": "microsoft",
                    "Amazon EC2": "amazon", "Google": "google", "OpenStack": "kvm", "Bochs": "bochs"}


def virtualization(flags: list[str] | None = None, sys_root: Path = Path("/sys")) -> dict:
    """Whether the "bare metal" this host offers is itself a virtual machine.

    Returns {"vm": str | None (hypervisor name, e.g. "kvm"), "container": str | None (the container
    this process runs in, e.g. "docker"), "evidence": [str]}: from `systemd-detect-virt --vm` /
    `--container` where installed, the CPUID hypervisor bit (the "hypervisor" flag of
    /proc/cpuinfo, set by every x86 hypervisor per Intel SDM vol. 2A CPUID.1:ECX[31]), and the
    DMI system vendor/product (/sys/class/dmi/id). A baseline that is a guest is labelled so in
    the tables and report: its "bare metal" numbers already carry a hypervisor's costs."""
    flags = cpu_flags() if flags is None else flags
    evidence, vm, container = [], None, None
    tool = shutil.which("systemd-detect-virt")
    if tool:
        for option in ("--vm", "--container"):
            try:
                out = subprocess.run([tool, option], capture_output=True, text=True, timeout=10).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if out and out != "none":
                evidence.append(f"systemd-detect-virt {option}: {out}")
                if option == "--vm":
                    vm = out
                else:
                    container = out
    if "hypervisor" in flags:
        evidence.append("CPU flag 'hypervisor' (CPUID.1:ECX[31])")
        vm = vm or "unknown hypervisor"
    for field in ("sys_vendor", "product_name"):
        text = _read(sys_root / "class" / "dmi" / "id" / field) or ""
        for name, hypervisor in _DMI_HYPERVISORS.items():
            if text.startswith(name):
                evidence.append(f"DMI {field}: {text}")
                vm = vm if vm and vm != "unknown hypervisor" else hypervisor
                break
    return {"vm": vm, "container": container, "evidence": evidence}


def baseline_label(virt: dict | None) -> str | None:
    """"host is a KVM guest" (the note the bare-metal baseline gets) or None on real hardware."""
    if not virt or not virt.get("vm"):
        return None
    name = str(virt["vm"])
    return f"host is a {name.upper() if len(name) <= 4 else name} guest" if name != "unknown hypervisor" \
        else "host is a virtual machine"


def _proc_stat(path: Path = Path("/proc/stat")) -> dict:
    """Aggregate CPU jiffies (user … steal, proc(5)) and the context-switch count."""
    out = {}
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            out["jiffies"] = [int(v) for v in parts[1:9]]  # user nice system idle iowait irq softirq steal
        elif parts and parts[0] == "ctxt":
            out["ctxt"] = int(parts[1])
    return out


def host_state() -> dict:
    """A snapshot for host_state_delta(): /proc/stat, the load average, the clock."""
    load = (_read(Path("/proc/loadavg")) or "").split()
    return {"stat": _proc_stat(), "load_1m": float(load[0]) if load else None}


def host_state_delta(before: dict, after: dict, sys_root: Path = Path("/sys")) -> dict:
    """What the host did while a unit ran: steal time (% of all CPU time, the hypervisor running
    someone else: proc(5) /proc/stat column 8), context switches, the 1-min load average when it
    started, and the CPU frequency (kHz, mean over CPUs, from cpufreq where readable), governor and
    SMT state (None where the host does not expose them, as in most guests)."""
    j0, j1 = before["stat"].get("jiffies"), after["stat"].get("jiffies")
    steal = None
    if j0 and j1:
        total = sum(j1) - sum(j0)
        steal = 100.0 * (j1[7] - j0[7]) / total if total > 0 else 0.0
    c0, c1 = before["stat"].get("ctxt"), after["stat"].get("ctxt")
    cpu = sys_root / "devices" / "system" / "cpu"
    freqs = [int(v) for v in (_read(p) for p in cpu.glob("cpu[0-9]*/cpufreq/scaling_cur_freq")) if v and v.isdigit()]
    smt = _read(cpu / "smt" / "active")
    return {
        "steal_pct": steal,
        "context_switches": (c1 - c0) if c0 is not None and c1 is not None else None,
        "load_1m": before.get("load_1m"),
        "cpu_khz": sum(freqs) / len(freqs) if freqs else None,
        "governor": _read(cpu / "cpu0" / "cpufreq" / "scaling_governor"),
        "smt_active": None if smt is None else smt == "1",
    }


def batch_context(environ=None) -> dict:
    """The batch job around this run: {system: slurm|htcondor|None, job_id, node}."""
    env = os.environ if environ is None else environ
    if env.get("SLURM_JOB_ID"):
        return {"system": "slurm", "job_id": env["SLURM_JOB_ID"], "node": env.get("SLURMD_NODENAME")}
    job_ad = env.get("_CONDOR_JOB_AD")
    if job_ad:
        ad = _classad_values(Path(job_ad))
        cluster, proc = ad.get("ClusterId"), ad.get("ProcId")
        job_id = f"{cluster}.{proc}" if cluster is not None and proc is not None else cluster
        return {"system": "htcondor", "job_id": job_id, "node": ad.get("RemoteHost")}
    return {"system": None, "job_id": None, "node": None}


def _classad_values(path: Path) -> dict[str, str]:
    """`Name = value` lines of a job ClassAd file (strings unquoted); {} when unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip('"')
    return values
