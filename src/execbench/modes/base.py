"""The Mode contract: how a payload's copies are started. One module per mode, one registry line.

A mode is a small class overriding only what differs from the defaults here (in the spirit of
BenchExec's tool-info modules, benchexec/tools/template.py). Each method takes one frozen context
object; `run()` returns a RunOutcome. The runner calls these methods and nothing else.

A mode owns its settings: `settings_schema` maps each factor to a JSON Schema fragment with its
default and description. The config schema and config/README.md are assembled from these
(execbench.config.config_schema), so what a mode reads and what a config may say cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Mapping

from ..errors import ExecbenchError

# Factors several kinds share (one spelling of each).
CPUSET_SETTING = {"enum": ["none", "per-copy"], "default": "none",
                  "description": "CPU pinning: none, or per-copy (copy i on logical core i mod cores)."}
NETWORK_SETTING = {"enum": ["none", "host", "bridge"], "default": "none",
                   "description": "Container network; none unless a payload needs one."}
# Site factors (issue 18): what a batch system or kernel sets around a job. One spelling each;
# modes/common.py resolves them (site_factors), docker and podman spell them for their engine,
# bare mode applies the quota (cpulimit.py).
CPU_LIMIT_KINDS = ("none", "cpuset", "quota", "shares")
CPU_LIMIT_SETTING = {
    "type": "object", "additionalProperties": False, "default": {"kind": "none"},
    "description": "CPU limit as a batch system sets it: none; cpuset (pin to `cpuset`, or to the first `cpus` "
                   "usable cores); quota (CFS bandwidth: `cpus` CPUs' worth of time per `period_us`, as docker "
                   "--cpus or a Kubernetes limit); shares (relative weight `shares`, as HTCondor's docker "
                   "universe: 100 x request_cpus). Throttling counters are read back per copy.",
    "properties": {
        "kind": {"enum": list(CPU_LIMIT_KINDS), "default": "none", "description": "Which limit."},
        "cpus": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
                 "description": "quota: CPUs per period (may be fractional); cpuset: how many cores."},
        "cpuset": {"type": ["string", "null"], "pattern": "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", "default": None,
                   "description": "cpuset: the cores, as a cpuset list (\"0-3,6\")."},
        "period_us": {"type": "integer", "minimum": 1000, "maximum": 1000000, "default": 100000,
                      "description": "quota: the CFS period in microseconds (the kernel's default 100 ms)."},
        "shares": {"type": ["integer", "null"], "minimum": 2, "maximum": 262144, "default": None,
                   "description": "shares: the cgroup v1 cpu.shares weight (1024 = the default)."},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "quota"}}, "required": ["kind"]},
         "then": {"required": ["cpus"], "properties": {"cpus": {"type": "number"}}}},
        {"if": {"properties": {"kind": {"const": "shares"}}, "required": ["kind"]},
         "then": {"required": ["shares"], "properties": {"shares": {"type": "integer"}}}},
    ],
}
SECCOMP_SETTING = {"type": "string", "minLength": 1, "default": "default",
                   "description": "Seccomp filter: default (the engine's profile), unconfined (none), or the path "
                                  "of a site profile (JSON, as `docker run --security-opt seccomp=FILE`; relative "
                                  "to the working directory)."}
SHM_SIZE_SETTING = {"type": ["string", "null"], "pattern": "^[0-9]+[bkmg]?$", "default": None,
                    "description": "Size of /dev/shm (\"1g\"); null: the engine's default (64 MiB in docker)."}
ULIMITS_SETTING = {
    "type": "object", "default": {},
    "propertyNames": {"enum": ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                               "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"]},
    "additionalProperties": {"type": "object", "required": ["soft", "hard"], "additionalProperties": False,
                             "properties": {"soft": {"type": "integer", "minimum": -1},
                                            "hard": {"type": "integer", "minimum": -1}}},
    "description": "rlimits set on the container (`nofile: {soft: 1048576, hard: 1048576}`); {}: the engine's "
                   "defaults (its daemon's default-ulimits).",
}
# A memory limit changes what is measured once a payload reaches it (reclaim, OOM kill), so there is
# none by default, as on bare metal; a site that wants one sets it and every run records it.
MEMORY_LIMIT_SETTING = {"type": ["integer", "null"], "minimum": 16, "maximum": 4194304, "default": None,
                        "description": "Memory limit of each container in MiB (swap included: no swap beyond "
                                       "it); null = none, as on bare metal. Recorded in every run's factors "
                                       "(memory_limit_mb)."}
COPIES_PER_CONTAINER_SETTING = {"enum": ["all", "one"], "default": "all",
                                "description": "All copies in one container, or one container per copy."}


class ModeError(ExecbenchError):
    """A mode could not carry out a run (image pull failed, mount failed ...): the run is recorded
    as failed with this message, its logs kept."""


@dataclass(frozen=True)
class Availability:
    """Whether a mode can run here. `reason`: why not, or a note for an ok mode. `emulated`: the
    mode runs, but its numbers are not comparable with bare metal (a TCG guest)."""

    ok: bool
    reason: str = ""
    emulated: bool = False


@dataclass(frozen=True)
class CopyResult:
    """What the harness saw of one copy (the payload's own timing is in its logs)."""

    copy: int
    exit_code: int | None
    wall_s: float | None  # measured inside the environment by the in-image launcher
    timed_out: bool = False
    cpu_s: float | None = None  # user+sys CPU of the copy's process tree (wait4 rusage inside)
    # CPU of the environment's own cgroup during the run, where it has one (a container on
    # cgroup v1/v2); shared by the copies of one container
    env_cgroup_cpu_s: float | None = None
    detail: str = ""
    # what the copy saw of its environment, taken inside by the launcher (execbench_launch.py
    # environment_fingerprint, with the ISA level added by modes.common.collect)
    environment: Mapping | None = None
    # CFS throttling of the environment's own cgroup over the run: {nr_periods, nr_throttled,
    # throttled_s}; None where it has no cgroup of its own. Shared by the copies of one container.
    cpu_throttling: Mapping | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict:
        return {"copy": self.copy, "exit_code": self.exit_code, "wall_s": self.wall_s,
                "timed_out": self.timed_out, "cpu_s": self.cpu_s, "env_cgroup_cpu_s": self.env_cgroup_cpu_s,
                "detail": self.detail,
                "environment": dict(self.environment) if self.environment is not None else None,
                "cpu_throttling": dict(self.cpu_throttling) if self.cpu_throttling is not None else None}


@dataclass(frozen=True)
class ModeContext:
    """One mode instance of the config: its name (e.g. "docker-hostnet"), kind and validated
    settings (defaults filled in), and where reusable artefacts are cached."""

    name: str
    kind: str
    settings: Mapping = field(default_factory=dict)
    cache_dir: Path = Path(".execbench/cache")

    def __post_init__(self):
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))


@dataclass(frozen=True)
class RunContext:
    """One run, resolved: everything a mode needs to start its copies.

    `argv` is the one command every copy runs inside the environment, with "{copy}" replaced by
    the copy index by the in-image launcher. `out_dir` is the run's raw directory on the host."""

    mode: ModeContext
    run_id: str
    image_ref: str  # registry reference by digest: 127.0.0.1:5000/name@sha256:...
    payload: str
    copies: int
    repetition: int
    argv: tuple[str, ...]
    timeout_s: float  # per copy
    out_dir: Path
    needs_network: bool = False
    # bytes one copy writes at most at once in its scratch dir (Payload.scratch_bytes); None: no
    # I/O payload. A mode that gives copies a scratch file system of their own sizes it from this.
    scratch_bytes: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def settings(self) -> Mapping:
        return self.mode.settings


@dataclass(frozen=True)
class RunOutcome:
    """What a mode reports of one run: a result per copy, the factors the run really got
    (recorded in run.json next to the configured settings), whether it was emulated."""

    copies: tuple[CopyResult, ...]
    factors: Mapping = field(default_factory=dict)
    emulated: bool = False

    def __post_init__(self):
        object.__setattr__(self, "copies", tuple(self.copies))
        object.__setattr__(self, "factors", dict(self.factors))


@dataclass(frozen=True)
class StartupSample:
    """One start-up measurement: host seconds from "start" to "it exited", and optional phases
    (e.g. {"boot_to_ready_s": 9.1, "shutdown_s": 0.4} for a VM)."""

    seconds: float
    phases: Mapping = field(default_factory=dict)


class Mode:
    """Base class of every execution mode. Override `run`; the rest has working defaults."""

    kind: ClassVar[str] = ""
    settings_schema: ClassVar[dict[str, dict]] = {}  # factor -> JSON Schema fragment (default, description)
    description: ClassVar[str] = ""

    def available(self, ctx: ModeContext) -> Availability:
        """Can this mode run on this host? (Cheap where possible: it is asked before every run.)"""
        return Availability(True)

    def needs_image(self, ctx: ModeContext) -> bool:
        """Whether runs need the study's image (a mode using host binaries does not)."""
        return True

    def versions(self, ctx: ModeContext) -> dict:
        """Engine/runtime versions for run.json's provenance."""
        return {}

    def security_facts(self, ctx: ModeContext) -> dict:
        """What the engine itself says about its isolation (security options, seccomp profile,
        rootless, user namespaces, storage and its filesystem), for the audit payload: facts, no
        verdicts (execbench.parsers.audit judges them). {} for a mode without an engine."""
        return {}

    def factors(self, ctx: RunContext) -> dict:
        """The factors this run is configured to get (network, pinning, hardening ...), recorded in
        run.json before the run; run() may report more in its outcome."""
        return dict(ctx.settings)

    def run(self, ctx: RunContext) -> RunOutcome:
        """Start ctx.copies copies at once, wait for all, return one CopyResult each. Native logs
        stay in ctx.out_dir/copy<i>/; nothing there is rewritten. Raises ModeError when the run
        cannot be carried out."""
        raise NotImplementedError(f"mode kind {self.kind!r} does not implement run()")

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """Host seconds to start argv in a fresh environment of this mode and see it exit (the
        startup payload). Safe to call from several threads."""
        raise ModeError(f"mode kind {self.kind!r} cannot measure start-up")
