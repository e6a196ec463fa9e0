"""HTCondor docker-universe mode: the batch system itself starts the benchmark
image (by digest), as the 2015 study's "Condor docker universe" runs did.

One run = one docker-universe job holding all copies (src/execbench/htcondor.py
writes its submit description). The job is submitted with condor_submit from
the access point where Snakemake runs, waited for through its event log with
condor_wait, and the launcher's copy<i>/ directories come back into the run
directory by HTCondor's file transfer. With `host` set, the job may only match
that machine, so it pairs with the bare/docker runs of the same host.

Where there is no condor_submit or no schedd answers (as on the development
machine), the mode is unavailable and says why; nothing is emulated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from ..htcondor import DockerJob, submit_description
from .base import Availability, CopyResult, ModeError, RunSpec
from .common import HOST_GRACE_S, collect

SUBMIT_FILE = "job.sub"
EVENT_LOG = "condor.log"  # `log =` in the submit description, relative to initialdir


def _network(spec: RunSpec) -> str:
    """docker_network_type: none unless the payload needs a network (HTCondor's NAT)."""
    network = spec.mode_settings.get("network", "none")
    if network == "none" and spec.needs_network:
        return "nat"
    return {"bridge": "nat"}.get(network, network)


def docker_job(spec: RunSpec, out_dir: Path) -> DockerJob:
    argvs = {json.dumps(argv) for argv in spec.copy_argv}
    if len(argvs) != 1:
        # one container runs every copy through the launcher's {copy} template
        raise ModeError(f"payload {spec.payload}: copy argvs differ beyond '{{copy}}': {sorted(argvs)}")
    return DockerJob(
        image_ref=spec.image_ref,
        copies=spec.copies,
        payload_argv=spec.copy_argv[0],
        timeout_s=spec.timeout_s,
        initialdir=str(out_dir.resolve()),
        host=spec.mode_settings.get("host"),
        network=_network(spec),
        request_memory_mb=spec.mode_settings.get("request_memory_mb"),
        extra_requirements=spec.mode_settings.get("requirements"),
        attributes={"ExecbenchRunId": spec.run_id},
    )


class HTCondorDockerMode:
    kind = "htcondor-docker"

    def available(self, settings: dict) -> Availability:
        if shutil.which("condor_submit") is None:
            return Availability(False, "condor_submit not found: this host is not an HTCondor access point")
        try:
            probe = subprocess.run(["condor_q", "-totals"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return Availability(False, f"condor_q failed: {err}")
        if probe.returncode != 0:
            return Availability(False, f"no condor_schedd answers: {probe.stderr.strip() or probe.stdout.strip()}")
        return Availability(True)

    def versions(self, settings: dict | None = None) -> dict:
        out = subprocess.run(["condor_version"], capture_output=True, text=True, timeout=60).stdout
        return {"engine": out.splitlines()[0] if out else None, "runtime": "docker universe (execute point's engine)"}

    def factors(self, spec: RunSpec) -> dict:
        return {
            "network": _network(spec),
            "universe": "docker",
            "host": spec.mode_settings.get("host"),
            # HTCondor, not execbench, sets up the container: it runs the job as
            # the slot's non-root user with the pool's docker options
            "hardening": "HTCondor docker universe defaults (non-root slot user; admin DOCKER_EXTRA_ARGUMENTS)",
            "copies_per_container": "all",
        }

    def run(self, spec: RunSpec, out_dir: Path) -> list[CopyResult]:
        out_dir.mkdir(parents=True, exist_ok=True)
        submit_file = out_dir / SUBMIT_FILE
        submit_file.write_text(submit_description(docker_job(spec, out_dir)))
        submitted = subprocess.run(
            ["condor_submit", "-terse", str(submit_file)], capture_output=True, text=True, timeout=300
        )
        if submitted.returncode != 0:
            raise ModeError(f"condor_submit failed: {submitted.stderr.strip()}")
        cluster = submitted.stdout.strip().split(".")[0]  # -terse prints "<cluster>.<first>-<cluster>.<last>"
        # Queue wait counts against the limit too: a run that never starts fails visibly.
        limit_s = spec.timeout_s + HOST_GRACE_S + float(spec.mode_settings.get("queue_wait_s", 3600))
        started = time.monotonic()
        waited = subprocess.run(
            ["condor_wait", "-wait", str(int(limit_s)), str(out_dir / EVENT_LOG), cluster],
            capture_output=True,
            text=True,
        )
        killed: set[int] = set()
        if waited.returncode != 0:
            subprocess.run(["condor_rm", cluster], capture_output=True, text=True, timeout=120)
            killed = set(range(spec.copies))
        exit_code = self._job_exit_code(cluster)
        results = collect(out_dir, spec, {i: exit_code for i in range(spec.copies)}, killed)
        for result in results:
            result.detail += f"; htcondor cluster {cluster}, {time.monotonic() - started:.1f} s queued+run"
        return results

    @staticmethod
    def _job_exit_code(cluster: str) -> int | None:
        history = subprocess.run(
            ["condor_history", cluster, "-limit", "1", "-af", "ExitCode"], capture_output=True, text=True, timeout=120
        )
        value = history.stdout.strip()
        return int(value) if value.isdigit() else None

    def startup_sample(self, spec: RunSpec, argv: list[str]) -> float:
        raise ModeError("htcondor-docker: startup latency through a batch queue measures the queue, not the container")
