"""Provenance of the machine a run happened on: the host part of run.json and the batch job around it."""

from __future__ import annotations

import os
import platform
import socket
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
