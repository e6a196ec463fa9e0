"""What every mode shares: the in-environment launcher's command line, the barrier,
reading the launcher's per-copy launch.json back, and the hardening we apply."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..isa import cpu_flags, isa_level
from ..layout import instance_tag, results_of_run_dir
from ..rootfs import RUN_MOUNT
from .base import CopyResult, ModeError, RunContext

LAUNCHER = "/opt/execbench/execbench_launch.py"
PAYLOAD_UID = PAYLOAD_GID = 10001  # user `execbench` inside the image
# Seconds the host waits beyond the payload's timeout before it kills the
# environment itself (the launcher normally kills a late copy first).
HOST_GRACE_S = 30.0
# Hardening applied to every container run (recorded in run.json as is).
HARDENING = {
    "user": f"{PAYLOAD_UID}:{PAYLOAD_GID}",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "read_only_rootfs": True,
    "tmpfs": {"/tmp": "rw,nosuid,nodev,mode=1777"},
    "mounts": [f"<run dir>:{RUN_MOUNT}:rw"],
    # processes and threads per container: stops a payload's fork bomb at the container, far
    # above what any payload starts (a few per copy), so it changes nothing measured
    "pids_limit": 4096,
}


# What the engine's inspect record says a container got (Docker's and Podman's share these
# field names): read back after the run and recorded in run.json's factors, next to HARDENING,
# which is only what was asked for.
READBACK_HOST_CONFIG = ("CapAdd", "CapDrop", "SecurityOpt", "ReadonlyRootfs", "Privileged", "NetworkMode",
                        "UsernsMode", "PidMode", "IpcMode", "CgroupnsMode", "Tmpfs", "Binds", "Devices")
READBACK_TOP = ("AppArmorProfile", "ProcessLabel", "EffectiveCaps", "BoundingCaps")


def engine_readback(attrs: dict) -> dict:
    """The hardening-relevant part of one container's inspect record (`docker inspect` /
    `podman inspect`): its name, Config.User, HostConfig's READBACK_HOST_CONFIG, the
    top-level READBACK_TOP fields and the mounts (source, destination, rw)."""
    host_config = attrs.get("HostConfig") or {}
    mounts = [{"source": m.get("Source"), "destination": m.get("Destination"), "rw": m.get("RW"),
               "type": m.get("Type")} for m in attrs.get("Mounts") or []]
    return {"container": (attrs.get("Name") or "").lstrip("/"), "user": (attrs.get("Config") or {}).get("User"),
            **{key: host_config.get(key) for key in READBACK_HOST_CONFIG},
            **{key: attrs.get(key) for key in READBACK_TOP if key in attrs}, "mounts": mounts}


# Site factors (issue 18, docs/factors.md): the settings' meaning is the same in docker and
# podman; each engine module only spells them (SDK arguments / command-line options).
@dataclass(frozen=True)
class SiteFactors:
    """The site factors of one run, resolved and engine-neutral.

    seccomp: None (the engine's own profile), "unconfined", or a site profile's resolved path
    (its JSON text in seccomp_profile); cpu: the container's CPU limit in the engine's HostConfig
    terms ({} | {cpuset_cpus} | {cpu_period, cpu_quota} (us) | {cpu_shares}); shm_size: "1g" or
    None; ulimits: {name: {soft, hard}}; record: what run.json's factors say was configured."""

    seccomp: str | None
    seccomp_profile: str | None
    cpu: dict
    shm_size: str | None
    ulimits: dict
    record: dict = field(default_factory=dict)


def first_cpus(n: float) -> str:
    """The first n usable cores as a cpuset list. ModeError for a fractional n or more than usable."""
    usable = sorted(os.sched_getaffinity(0))
    if n > len(usable) or n != int(n):
        raise ModeError(f"cpu_limit kind cpuset: cpus must be a whole number <= {len(usable)} usable cores, got {n}")
    return ",".join(str(c) for c in usable[:int(n)])


def site_factors(settings) -> SiteFactors:
    """Resolve a container mode's seccomp, cpu_limit, shm_size and ulimits settings (schemas in
    modes/base.py). Limits apply per container. A site seccomp profile is read and checked as
    JSON here and recorded by path and sha256. ModeError naming the setting for a profile that
    is not readable JSON, a cpuset without cores, or a cpuset that would fight per-copy pinning."""
    setting = settings["seccomp"]
    profile_text = None
    if setting == "default":
        seccomp, record = None, {"seccomp": "engine default"}
    elif setting == "unconfined":
        seccomp, record = "unconfined", {"seccomp": "unconfined"}
    else:
        path = Path(setting)
        try:
            profile_text = path.read_text()
            json.loads(profile_text)
        except (OSError, ValueError) as err:
            raise ModeError(f"seccomp profile {path.resolve()}: not a readable JSON file ({err})") from None
        seccomp = str(path.resolve())
        record = {"seccomp": {"profile": seccomp, "sha256": hashlib.sha256(profile_text.encode()).hexdigest()}}
    limit = dict(settings["cpu_limit"])
    kind, cpu = limit["kind"], {}
    if kind == "cpuset":
        if settings["cpuset"] == "per-copy" and settings["copies_per_container"] == "one":
            raise ModeError("cpu_limit kind cpuset and cpuset per-copy with one container per copy both set "
                            "the container's cpuset: choose one")
        if not limit.get("cpuset") and not limit.get("cpus"):
            raise ModeError("cpu_limit kind cpuset needs `cpuset` (a cpu list) or `cpus` (how many cores)")
        cpu["cpuset_cpus"] = limit.get("cpuset") or first_cpus(limit["cpus"])
    elif kind == "quota":
        cpu["cpu_period"] = int(limit["period_us"])
        cpu["cpu_quota"] = max(1000, int(round(limit["cpus"] * limit["period_us"])))
    elif kind == "shares":
        cpu["cpu_shares"] = int(limit["shares"])
    ulimits = {name: dict(value) for name, value in sorted(settings["ulimits"].items())}
    record.update(cpu_limit={"kind": kind, **cpu}, shm_size=settings["shm_size"] or "engine default",
                  ulimits=ulimits or "engine default")
    return SiteFactors(seccomp, profile_text, cpu, settings["shm_size"], ulimits, record)


# The HostConfig fields of an inspect record that hold the site factors (docker and podman spell
# them alike); a seccomp profile's JSON in SecurityOpt is shortened to its sha256.
SITE_READ_BACK = ("SecurityOpt", "CpuQuota", "CpuPeriod", "NanoCpus", "CpusetCpus", "CpuShares", "ShmSize", "Memory",
                  "Ulimits", "PidsLimit")


def site_factor_read_back(attrs: dict) -> dict:
    """The site factors as the engine holds them in one container's inspect record."""
    host_config = attrs.get("HostConfig") or {}
    out = {key: host_config.get(key) for key in SITE_READ_BACK}
    opts = []
    for opt in out["SecurityOpt"] or []:
        value = opt.partition("=")[2]
        if opt.startswith("seccomp=") and value != "unconfined" and value.lstrip().startswith("{"):
            opt = "seccomp=sha256:" + hashlib.sha256(value.encode()).hexdigest()
        opts.append(opt)
    out["SecurityOpt"] = opts
    return out


# Labels on every container (and the parts of every guest's name) that say whose it is: the run,
# and the results dir it writes to (layout.instance_tag), so leftovers are found per run and per
# results dir, never another checkout's (issue 13, R13).
RUN_LABEL = "execbench.run_id"
RESULTS_LABEL = "execbench.results"
RESULTS_DIR_LABEL = "execbench.results_dir"


def instance(ctx: RunContext) -> str:
    """The instance tag of the results dir this run writes to."""
    return instance_tag(results_of_run_dir(ctx.out_dir))


def environment_name(ctx: RunContext, suffix: str | int | None = None) -> str:
    """execbench-<instance>-<run id>[-<suffix>]: a container's or guest's name, one per run and
    results dir, made of [A-Za-z0-9_.-] only (names are also qemu option values)."""
    name = f"execbench-{instance(ctx)}-{ctx.run_id}" + ("" if suffix is None else f"-{suffix}")
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)


def labels(ctx: RunContext) -> dict[str, str]:
    results = results_of_run_dir(ctx.out_dir)
    return {RUN_LABEL: ctx.run_id, RESULTS_LABEL: instance_tag(results), RESULTS_DIR_LABEL: str(results)}


def container_groups(ctx: RunContext) -> list[list[int]]:
    """Copy indices per container: all copies in one, or one container per copy."""
    if ctx.settings.get("copies_per_container", "all") == "one":
        return [[i] for i in range(ctx.copies)]
    return [list(range(ctx.copies))]


# Slack before the first environment starts. Every copy records how late it started
# against the barrier (launch.json start_lag_s): measured <= 10 ms in a full default
# study with this slack, so copies overlap from their first instruction.
BARRIER_BASE_S = 0.5


def start_barrier(n_environments: int, per_environment_s: float, base_s: float = 1.0) -> float:
    """Epoch second at which every copy starts: late enough for all environments to be up."""
    return time.time() + base_s + per_environment_s * n_environments


def launcher_argv(ctx: RunContext, copies: list[int], start_at: float, *, pin: bool, python: str = "python3",
                  launcher: str = LAUNCHER, run_dir: str = RUN_MOUNT, payload_argv=None,
                  scratch: str | None = None) -> list[str]:
    """The in-environment launcher's command line starting `copies` of the run's argv (or
    `payload_argv`) at epoch `start_at`; `scratch`: the scratch file system's mount point inside
    the environment, where copy i gets <scratch>/copy<i> (the launcher's --scratch)."""
    argv = [python, launcher, "--run-dir", run_dir, "--copies", str(ctx.copies),
            "--start-at", f"{start_at:.6f}", "--timeout", f"{ctx.timeout_s:g}",
            "--pin", "per-copy" if pin else "none"]
    if scratch is not None:
        argv += ["--scratch", scratch]
    if copies != list(range(ctx.copies)):
        for i in copies:
            argv += ["--copy", str(i)]
    return argv + ["--"] + list(payload_argv if payload_argv is not None else ctx.argv)


def prepare_run_dir(out_dir: Path, owner_uid: int, owner_gid: int) -> None:
    """The run dir, writable by the payload user (and by nobody else but root)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chown(out_dir, owner_uid, owner_gid)
    out_dir.chmod(0o755)


def check_reachable(user, out_dir: Path) -> None:
    """An engine running as `user` (a pwd entry) opens the run dir itself (rootless podman's bind
    source, qemu's 9p share): every parent must be searchable by it. ModeError naming the parent."""
    from .base import ModeError

    for parent in [out_dir.resolve(), *out_dir.resolve().parents]:
        st = parent.stat()
        if not (st.st_mode & 0o001 or st.st_uid == user.pw_uid and st.st_mode & 0o100):
            raise ModeError(f"run dir {out_dir} is not reachable by user {user.pw_name}: {parent} lacks o+x")


def collect(out_dir: Path, copies: int, env_exit: dict[int, int | None], killed: set[int]) -> list[CopyResult]:
    """One CopyResult per copy from copy<i>/launch.json (written inside the environment).

    env_exit: exit status of the environment (container / launcher) that ran copy i;
    killed: copies whose environment the host had to kill (outer timeout)."""
    results = []
    for i in range(copies):
        launch = out_dir / f"copy{i}" / "launch.json"
        try:
            data = json.loads(launch.read_text())
        except (OSError, ValueError) as err:
            results.append(CopyResult(
                copy=i, exit_code=None, wall_s=None, timed_out=i in killed,
                detail=f"no launch.json from the launcher ({err.__class__.__name__}); "
                       f"environment exit status {env_exit.get(i)}"
                       + ("; killed by the host after its timeout" if i in killed else "")))
            continue
        cpu = None
        if data.get("cpu_user_s") is not None:
            cpu = data["cpu_user_s"] + (data.get("cpu_sys_s") or 0.0)
        results.append(CopyResult(
            copy=i, exit_code=data.get("exit_code"), wall_s=data.get("wall_s"),
            timed_out=bool(data.get("timed_out")) or i in killed, cpu_s=cpu,
            env_cgroup_cpu_s=data.get("env_cgroup_cpu_s"),
            detail=f"start_lag_s={data.get('start_lag_s', 0.0):.4f}",
            environment=with_isa_level(data.get("environment")),
            cpu_throttling=data.get("cpu_throttling")))
    return results


def with_isa_level(environment: dict | None) -> dict | None:
    """The launcher's fingerprint with its CPU flag list turned into what differs: the psABI level
    the environment's userland sees (execbench.isa) and the host's flags it does not see (a VM's
    CPU model hiding AVX2, canonical/packer-maas#54); the full list stays in launch.json."""
    if not isinstance(environment, dict):
        return None
    environment = dict(environment)
    flags = environment.pop("cpu_flags", None)
    if flags is not None:
        environment["isa_level"] = isa_level(flags)
        environment["cpu_flags_not_seen"] = sorted(set(cpu_flags()) - set(flags))
    return environment


def effective_network(ctx: RunContext) -> str:
    """Configured network, except that a payload which needs one gets bridge over none."""
    network = ctx.settings.get("network", "none")
    return "bridge" if network == "none" and ctx.needs_network else network
