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
