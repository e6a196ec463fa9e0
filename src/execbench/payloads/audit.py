"""The host audit: the 2015 RACF study's two surprises, checked on every host and in every mode
before any number is trusted.

(1) Security posture. Anyone who can talk to the Docker daemon is root on the host ("docker group =
root"; Docker then had no user namespaces). On the host (execbench.hostaudit): who can start
containers (engine sockets, their group's members, TCP endpoints), userns-remap, rootless Podman,
seccomp, AppArmor / SELinux, cgroup version, no-new-privileges defaults, the registry's exposure;
from the mode's engine (Mode.security_facts): its security options; and what the payload's
container really got, read back from the engine after the run (the mode's factors
`engine_readback`, from `docker inspect` / `podman inspect`), not from our own config.
(2) Kernel/userland ABI. A 32-bit SL6 userland on an SL7 host with XFS mounted inode64 saw
stat() fail with EOVERFLOW for inode numbers above 2^32 ("missing" files). Inside the
environment (src/execbench/inimage/audit.py) a 32-bit and a 64-bit probe built in the image
stat(), readdir() and open() files on every filesystem the payload uses (run dir, the
environment's root and /tmp; in a VM the run dir is the 9p share), with each filesystem's type
and mount options.

Runs once per mode at the head of each host's chain (runs_once_first), takes seconds, measures
nothing and is never compared with bare metal (compared_with_bare = False). Native logs:
host-audit.json (host facts, before the run), engine-readback.json (after it), and per copy
audit.json, abi-probe-32.log, abi-probe-64.log, mountinfo.txt. Verdicts (ok / warning /
blocking, each with its evidence) come from execbench.parsers.audit, so a rebuild from raw logs
applies the current rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..fsutil import atomic_write_json
from ..records import Record, failed_record
from .base import INIMAGE_DIR, Payload, copy_dirs, copy_failure

if TYPE_CHECKING:  # pragma: no cover
    from ..modes.base import Mode, RunContext, RunOutcome

HOST_LOG = "host-audit.json"
READBACK_LOG = "engine-readback.json"
ENV_LOG = "audit.json"


class Audit(Payload):
    name = "audit"
    description = ("host audit: who can start containers, user namespaces, seccomp/AppArmor/SELinux, cgroups, "
                   "registry exposure, the hardening read back from the engine, and 32-/64-bit stat(), readdir() "
                   "and open() on every filesystem the payload uses")
    settings_schema = {
        "max_entries": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 64,
                        "description": "Directory entries the ABI probes list per directory."},
        "scratch_dirs": {"type": "integer", "minimum": 0, "maximum": 64, "default": 4,
                         "description": "New directories (with one file each) made, probed and removed on "
                                        "each writable filesystem: an allocator spreading directories over the "
                                        "disk (XFS inode64) then shows its large inode numbers."},
        "probe_registry": {"type": "boolean", "default": True,
                           "description": "Ask the image's registry over HTTP whether it needs authentication "
                                          "(GET /v2/) and allows deletion (a DELETE of a manifest digest that "
                                          "cannot exist: nothing is deleted); false: only who listens on its port."},
    }
    sizes = ()
    default_timeout_s = 120.0
    host_driven = True  # host facts and the engine's read-back around the in-environment driver
    runs_once_first = True
    compared_with_bare = False
    log_file = ENV_LOG
    parser_format = "execbench-audit"
    missing_record = ("audit", "blocking", "findings", False)

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:  # one unit: the whole audit
        return ["python3", f"{INIMAGE_DIR}/audit.py", "--max-entries", str(settings["max_entries"]),
                "--scratch-dirs", str(settings["scratch_dirs"])]

    def run_host(self, mode: "Mode", ctx: "RunContext", settings: Mapping) -> "RunOutcome":
        """Host facts, the engine's own security facts, then the in-environment driver through the
        mode's normal run (so it gets exactly what every payload gets), then the read-back."""
        from ..hostaudit import host_security_facts
        from ..modes.base import RunOutcome

        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        host = host_security_facts(ctx.image_ref, ctx.out_dir, probe_registry=settings["probe_registry"])
        try:
            engine = mode.security_facts(ctx.mode)
        except Exception as err:  # recorded: the audit says the engine could not be asked
            engine = {"error": f"{type(err).__name__}: {err}"[:300]}
        atomic_write_json(ctx.out_dir / HOST_LOG, {**host, "mode": ctx.mode.name, "mode_kind": ctx.mode.kind,
                                                    "engine": engine})
        outcome = mode.run(ctx)
        factors = dict(outcome.factors)
        atomic_write_json(ctx.out_dir / READBACK_LOG, {
            "mode": ctx.mode.name, "mode_kind": ctx.mode.kind,
            "requested": {"hardening": factors.get("hardening"), "network": factors.get("network")},
            "engine_readback": factors.get("engine_readback")})
        # run.json's provenance: the host's posture facts next to the factors
        factors["host_security"] = host
        factors["engine_security"] = engine
        return RunOutcome(outcome.copies, factors, outcome.emulated)

    def parse(self, run_dir: Path) -> list[Record]:
        from .. import parsers

        missing = [(i, d) for i, d in copy_dirs(Path(run_dir)) if not (d / ENV_LOG).is_file()]
        if missing:
            return [failed_record(*self.missing_record, d / ENV_LOG, i, f"no {ENV_LOG}: {copy_failure(d)}")
                    for i, d in missing]
        return parsers.get(self.parser_format).parse(Path(run_dir))
