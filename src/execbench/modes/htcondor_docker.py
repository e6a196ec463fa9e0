"""HTCondor docker-universe mode: the batch system itself starts the benchmark
image (by digest), as the 2015 study's "Condor docker universe" runs did.

One run = one docker-universe job holding all copies (modes/htcondor_submit.py
writes its submit description). The job is submitted with condor_submit from
the access point where Snakemake runs, waited for through its event log with
condor_wait, and the launcher's copy<i>/ directories come back into the run
directory by HTCondor's file transfer. With `host` set, the job may only match
that machine, so it pairs with the bare/docker runs of the same host.

Where there is no condor_submit or no schedd answers (as on the development
machine), the mode is unavailable and says why; nothing is emulated.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import replace

from .base import Availability, Mode, ModeContext, ModeError, RunContext, RunOutcome, StartupSample
from .common import HOST_GRACE_S, collect
from .htcondor_submit import DockerJob, submit_description

SUBMIT_FILE = "job.sub"
EVENT_LOG = "condor.log"  # `log =` in the submit description, relative to initialdir


def _network(ctx: RunContext) -> str:
    """docker_network_type: none unless the payload needs a network (HTCondor's NAT)."""
    network = ctx.settings["network"]
    if network == "none" and ctx.needs_network:
        return "nat"
    return {"bridge": "nat"}.get(network, network)


def docker_job(ctx: RunContext) -> DockerJob:
    return DockerJob(
        image_ref=ctx.image_ref,
        copies=ctx.copies,
        payload_argv=list(ctx.argv),
        timeout_s=ctx.timeout_s,
        initialdir=str(ctx.out_dir.resolve()),
        host=ctx.settings["host"],
        network=_network(ctx),
        request_memory_mb=ctx.settings["request_memory_mb"],
        extra_requirements=ctx.settings["requirements"],
        attributes={"ExecbenchRunId": ctx.run_id},
    )


class HTCondorDockerMode(Mode):
    kind = "htcondor-docker"
    description = "the batch system starts the image by digest (HTCondor docker universe); needs a pool's access point"
    settings_schema = {
        "network": {"enum": ["none", "host", "bridge"], "default": "none",
                    "description": "Container network; none unless a payload needs one (bridge = HTCondor's nat)."},
        "queue_wait_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 30 * 86400, "default": 3600,
                         "description": "Seconds a run may wait in the queue before it is failed."},
        "host": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 253, "default": None,
                 "description": "The execute machine the job must match (pairs it with that host's bare runs); "
                                "null = any."},
        "requirements": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096, "default": None,
                         "description": "Extra ClassAd requirements expression, ANDed with the docker-universe ones."},
        "request_memory_mb": {"type": ["integer", "null"], "minimum": 1, "maximum": 4194304, "default": None,
                              "description": "request_memory in MiB (null = the pool's default)."},
    }

    def available(self, ctx: ModeContext) -> Availability:
        if shutil.which("condor_submit") is None:
            return Availability(False, "condor_submit not found: this host is not an HTCondor access point")
        try:
            probe = subprocess.run(["condor_q", "-totals"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return Availability(False, f"condor_q failed: {err}")
        if probe.returncode != 0:
            return Availability(False, f"no condor_schedd answers: {probe.stderr.strip() or probe.stdout.strip()}")
        return Availability(True)

    def versions(self, ctx: ModeContext) -> dict:
        out = subprocess.run(["condor_version"], capture_output=True, text=True, timeout=60).stdout
        return {"engine": out.splitlines()[0] if out else None, "runtime": "docker universe (execute point's engine)"}

    def factors(self, ctx: RunContext) -> dict:
        return {
            "network": _network(ctx),
            "universe": "docker",
            "host": ctx.settings["host"],
            # HTCondor, not execbench, sets up the container: it runs the job as
            # the slot's non-root user with the pool's docker options
            "hardening": "HTCondor docker universe defaults (non-root slot user; admin DOCKER_EXTRA_ARGUMENTS)",
            "copies_per_container": "all",
        }

    def run(self, ctx: RunContext) -> RunOutcome:
        out_dir = ctx.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        submit_file = out_dir / SUBMIT_FILE
        submit_file.write_text(submit_description(docker_job(ctx)))
        submitted = subprocess.run(
            ["condor_submit", "-terse", str(submit_file)], capture_output=True, text=True, timeout=300
        )
        if submitted.returncode != 0:
            raise ModeError(f"condor_submit failed: {submitted.stderr.strip()}")
        cluster = submitted.stdout.strip().split(".")[0]  # -terse prints "<cluster>.<first>-<cluster>.<last>"
        # Queue wait counts against the limit too: a run that never starts fails visibly.
        limit_s = ctx.timeout_s + HOST_GRACE_S + float(ctx.settings["queue_wait_s"])
        started = time.monotonic()
        waited = subprocess.run(
            ["condor_wait", "-wait", str(int(limit_s)), str(out_dir / EVENT_LOG), cluster],
            capture_output=True,
            text=True,
        )
        killed: set[int] = set()
        if waited.returncode != 0:
            subprocess.run(["condor_rm", cluster], capture_output=True, text=True, timeout=120)
            killed = set(range(ctx.copies))
        exit_code = self._job_exit_code(cluster)
        results = collect(out_dir, ctx.copies, {i: exit_code for i in range(ctx.copies)}, killed)
        note = f"; htcondor cluster {cluster}, {time.monotonic() - started:.1f} s queued+run"
        return RunOutcome([replace(r, detail=r.detail + note) for r in results], self.factors(ctx))

    @staticmethod
    def _job_exit_code(cluster: str) -> int | None:
        history = subprocess.run(
            ["condor_history", cluster, "-limit", "1", "-af", "ExitCode"], capture_output=True, text=True, timeout=120
        )
        value = history.stdout.strip()
        return int(value) if value.isdigit() else None

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        raise ModeError("htcondor-docker: startup latency through a batch queue measures the queue, not the container")
