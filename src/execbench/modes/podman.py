"""Rootless Podman mode: hardened containers started by an unprivileged host user.

The answer to "docker group = root": the engine runs as `execbench` (config
`modes.<name>.user`), inside that user's subordinate id range; the image is
pulled by digest from the local registry into the user's own storage.
On cgroup v1 rootless podman cannot apply CPU limits, so pinning is done by the
launcher inside (sched_setaffinity) whatever copies_per_container is.

The site factors (seccomp, cpu_limit, shm_size, ulimits, memory_limit_mb) mean what they mean
in docker (modes/common.py: site_factors). Rootless podman applies a CPU or memory limit only
through a cgroup controller delegated to its user (cgroup v2; runc docs/cgroup-v2.md,
"Configuring delegation"), and cannot raise an rlimit above the hard limit it inherits (no
CAP_SYS_RESOURCE on the host): a setting it cannot apply makes the mode unavailable, naming
the setting and what the host lacks, never a run without the limit it records.
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import subprocess
import time
from pathlib import Path

from .base import (COPIES_PER_CONTAINER_SETTING, CPU_LIMIT_SETTING, CPUSET_SETTING, MEMORY_LIMIT_SETTING, NETWORK_SETTING,
                   SECCOMP_SETTING, SHM_SIZE_SETTING, ULIMITS_SETTING, Availability, Mode, ModeContext, ModeError,
                   RunContext, RunOutcome, StartupSample)
from .common import (BARRIER_BASE_S, HARDENING, HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RESULTS_LABEL, RUN_LABEL,
                     RUN_MOUNT, check_reachable, collect, container_groups, effective_network, engine_readback,
                     environment_name, labels, launcher_argv, prepare_run_dir, site_factor_read_back, site_factors,
                     start_barrier)

START_S_PER_CONTAINER = 0.75  # rootless podman run: ~0.2-0.6 s here (no daemon, conmon)


def subordinate_start(user: str, path: str = "/etc/subuid") -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == user:
                return int(rest.split(":")[0])
    except (OSError, ValueError):
        pass
    return None


def host_id_for(container_id: int, user: str, path: str) -> int:
    """Host id of a container id in the rootless user namespace (0 -> the user, k -> start+k-1)."""
    start = subordinate_start(user, path)
    if start is None:
        raise ModeError(f"user {user!r} has no range in {path}")
    return start + container_id - 1


def check_readable(user, path: Path) -> None:
    """A file podman opens as `user` (a pwd entry): its parents searchable, itself readable by
    that user. ModeError naming the file."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if not (st.st_mode & 0o001 or st.st_uid == user.pw_uid and st.st_mode & 0o100):
            raise ModeError(f"{path} is not reachable by user {user.pw_name}, who runs rootless podman: "
                            f"{parent} lacks o+x")
    st = path.stat()
    if not (st.st_mode & 0o004 or st.st_uid == user.pw_uid and st.st_mode & 0o400):
        raise ModeError(f"{path} is not readable by user {user.pw_name}, who runs rootless podman (o+r)")


def cgroup_v2() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def pids_options(settings=None) -> list[str]:
    """The containers' process limit (HARDENING pids_limit). Rootless podman on cgroup v1 has no
    pids cgroup of its own (it ignores --pids-limit with a warning), so there the same number is
    the payload user's RLIMIT_NPROC, which counts that (subordinate) host uid's processes; a
    site's own `ulimits.nproc` takes its place."""
    if cgroup_v2():
        return ["--pids-limit", str(HARDENING["pids_limit"])]
    if settings and "nproc" in (settings.get("ulimits") or {}):
        return []  # site_factor_options sets it
    return ["--ulimit", f"nproc={HARDENING['pids_limit']}:{HARDENING['pids_limit']}"]


# The cgroup controller each limit needs in the rootless user's own cgroup.
LIMIT_CONTROLLER = {"cpuset": "cpuset", "quota": "cpu", "shares": "cpu", "memory_limit_mb": "memory"}


def _rlimit_text(value: int) -> str:
    return "unlimited" if value in (-1, resource.RLIM_INFINITY) else str(value)


def limits_not_applicable(settings, info: dict, hard_limit=None) -> list[str]:
    """Why rootless podman cannot apply this mode's cpu_limit, memory_limit_mb or ulimits here
    ([] when it can).

    info: `podman info --format json` as the rootless user; host.cgroupControllers lists the
    controllers delegated to that user ([] on cgroup v1 rootless, where podman drops every CPU
    and memory limit with only a warning). hard_limit(name) -> the hard rlimit the podman
    process inherits (default: this process's, via getrlimit), which a rootless engine cannot
    raise: a ulimit above it fails in the OCI runtime's setrlimit."""
    host = info.get("host") or {}
    controllers = list(host.get("cgroupControllers") or [])
    kind = settings["cpu_limit"]["kind"]
    wanted = [(f"cpu_limit kind {kind}", LIMIT_CONTROLLER.get(kind))]
    if settings.get("memory_limit_mb"):
        wanted.append((f"memory_limit_mb {settings['memory_limit_mb']}", "memory"))
    missing = [f"{what} needs the `{controller}` cgroup controller" for what, controller in wanted
               if controller and controller not in controllers]
    reasons = []
    if missing:
        # podman itself only warns ("Resource limits are not supported and ignored on cgroups V1
        # rootless systems") and runs the container unlimited
        reasons.append(f"{'; '.join(missing)}, and user {settings['user']}'s cgroup has "
                       f"{', '.join(controllers) or 'no controllers'} delegated (podman info: cgroup "
                       f"{host.get('cgroupVersion')}, manager {host.get('cgroupManager')}): rootless podman would run "
                       f"without the limit; rootless limits need cgroup v2 with the controller delegated to the user "
                       f"(systemd: Delegate=cpu cpuset io memory pids in user@.service.d)")
    if hard_limit is None:
        def hard_limit(name):
            return resource.getrlimit(getattr(resource, f"RLIMIT_{name.upper()}"))[1]
    for name, value in sorted((settings.get("ulimits") or {}).items()):
        limit = hard_limit(name)
        if limit == resource.RLIM_INFINITY:
            continue
        for which in ("soft", "hard"):
            asked = value[which]
            if asked == -1 or asked > limit:
                reasons.append(f"ulimits.{name} {which} {_rlimit_text(asked)} is above the hard limit "
                               f"{_rlimit_text(limit)} that rootless podman inherits from execbench's process, "
                               f"which it cannot raise (no CAP_SYS_RESOURCE); raise it where execbench starts "
                               f"(ulimit -H, systemd LimitNOFILE=, the batch system's limits) or lower the setting")
                break
    return reasons


def site_factor_options(ctx: RunContext) -> tuple[list[str], dict]:
    """`podman run` options for the site factors (modes/common.py: site_factors; memory_limit_mb
    is in hardened_options) and their record. A site seccomp profile is passed by path: podman,
    as the rootless user, reads it."""
    factors = site_factors(ctx.settings)
    opts = []
    if factors.seccomp is not None:
        opts += ["--security-opt", f"seccomp={factors.seccomp}"]
    cpu = factors.cpu
    if "cpuset_cpus" in cpu:
        opts += ["--cpuset-cpus", cpu["cpuset_cpus"]]
    if "cpu_quota" in cpu:
        opts += ["--cpu-period", str(cpu["cpu_period"]), "--cpu-quota", str(cpu["cpu_quota"])]
    if "cpu_shares" in cpu:
        opts += ["--cpu-shares", str(cpu["cpu_shares"])]
    if factors.shm_size:
        opts += ["--shm-size", factors.shm_size]
    for name, value in factors.ulimits.items():
        opts += ["--ulimit", f"{name}={value['soft']}:{value['hard']}"]
    return opts, factors.record


def hardened_options(ctx: RunContext, out_dir: Path | None) -> list[str]:
    opts = ["--user", HARDENING["user"], "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            # only our /tmp tmpfs is writable, as in docker (podman would add /run, /var/tmp)
            "--read-only", "--read-only-tmpfs=false", "--network", effective_network(ctx), *pids_options(ctx.settings)]
    for key, value in labels(ctx).items():
        opts += ["--label", f"{key}={value}"]
    for path, options in HARDENING["tmpfs"].items():
        opts += ["--tmpfs", f"{path}:{options}"]
    if ctx.settings.get("memory_limit_mb"):  # needs `memory` delegated (available() checks)
        limit = f"{int(ctx.settings['memory_limit_mb'])}m"
        opts += ["--memory", limit, "--memory-swap", limit]
    if out_dir is not None:
        opts += ["--volume", f"{out_dir.resolve()}:{RUN_MOUNT}:rw", "--workdir", RUN_MOUNT]
    return opts


class PodmanMode(Mode):
    kind = "podman"
    description = "rootless Podman run by an unprivileged host user, hardened like docker"
    settings_schema = {
        "user": {"type": "string", "pattern": "^[a-z_][a-z0-9_-]*$", "maxLength": 32, "default": "execbench",
                 "description": "The unprivileged host user that runs rootless podman (scripts/setup.sh creates it)."},
        "network": NETWORK_SETTING, "cpuset": CPUSET_SETTING, "copies_per_container": COPIES_PER_CONTAINER_SETTING,
        "memory_limit_mb": MEMORY_LIMIT_SETTING, "seccomp": SECCOMP_SETTING, "cpu_limit": CPU_LIMIT_SETTING,
        "shm_size": SHM_SIZE_SETTING, "ulimits": ULIMITS_SETTING,
    }

    def _user(self, settings) -> pwd.struct_passwd:
        name = settings["user"]
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise ModeError(f"host user {name!r} for rootless podman does not exist (scripts/setup.sh creates it)") from None

    def podman(self, settings, *args: str, timeout: float | None = None, popen: bool = False, **kw):
        """Run `podman args...` as the unprivileged user (never as root)."""
        user = self._user(settings)
        runtime_dir = Path(f"/run/user/{user.pw_uid}")
        if os.geteuid() == 0 and not runtime_dir.is_dir():
            runtime_dir.mkdir(parents=True, mode=0o700)
            os.chown(runtime_dir, user.pw_uid, user.pw_gid)
        env = {"HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
               "PATH": "/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime_dir)}
        ids = {} if os.geteuid() == user.pw_uid else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        argv = ["podman", *args]
        if popen:
            return subprocess.Popen(argv, env=env, cwd=user.pw_dir, **ids, **kw)
        return subprocess.run(argv, env=env, cwd=user.pw_dir, capture_output=True, text=True,
                              timeout=timeout, **ids, **kw)

    def available(self, ctx: ModeContext) -> Availability:
        settings = ctx.settings
        if shutil.which("podman") is None:
            return Availability(False, "podman is not installed")
        try:
            user = self._user(settings)
        except ModeError as err:
            return Availability(False, str(err))
        if user.pw_uid == 0:
            return Availability(False, "modes.podman.user is root: this mode is rootless podman only")
        if subordinate_start(user.pw_name) is None:
            return Availability(False, f"user {user.pw_name!r} has no subordinate uid range in /etc/subuid")
        try:
            proc = self.podman(settings, "info", "--format", "json", timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            return Availability(False, f"'podman info' as {user.pw_name} failed: {err}")
        try:
            info = json.loads(proc.stdout) if proc.returncode == 0 else {}
        except ValueError:
            info = {}
        if (info.get("host") or {}).get("security", {}).get("rootless") is not True:
            return Availability(False, f"rootless 'podman info' as {user.pw_name} failed: {proc.stderr.strip()[-400:]}")
        reasons = limits_not_applicable(settings, info)
        if reasons:
            return Availability(False, "; ".join(reasons))
        return Availability(True)

    def versions(self, ctx: ModeContext) -> dict:
        settings = ctx.settings
        info = json.loads(self.podman(settings, "info", "--format", "json", timeout=120).stdout or "{}")
        host, store = info.get("host", {}), info.get("store", {})
        runtime = host.get("ociRuntime", {})
        return {
            "engine": f"podman {info.get('version', {}).get('Version')}",
            "runtime": (runtime.get("version") or runtime.get("name") or "").splitlines()[0],
            "conmon": (host.get("conmon", {}).get("version") or "").split(",")[0],
            "storage_driver": store.get("graphDriverName"),
            "cgroup_version": host.get("cgroupVersion"),
            "rootless": host.get("security", {}).get("rootless"),
            "user": settings["user"],
        }

    def security_facts(self, ctx: ModeContext) -> dict:
        """`podman info` as the rootless user: its security section (rootless, seccomp and its
        profile, AppArmor, SELinux), cgroup version and manager, storage driver, graph root and
        that directory's filesystem on the host."""
        from ..hostaudit import filesystem_of

        proc = self.podman(ctx.settings, "info", "--format", "json", timeout=120)
        if proc.returncode != 0:
            return {"engine": "podman", "error": proc.stderr.strip()[-300:]}
        info = json.loads(proc.stdout or "{}")
        host, store = info.get("host", {}), info.get("store", {})
        security = host.get("security", {})
        root = store.get("graphRoot")
        return {
            "engine": "podman", "server_version": info.get("version", {}).get("Version"), "user": ctx.settings["user"],
            "rootless": security.get("rootless"), "seccomp": security.get("seccompEnabled"),
            "seccomp_profile": security.get("seccompProfilePath"), "apparmor": security.get("apparmorEnabled"),
            "selinux": security.get("selinuxEnabled"), "default_capabilities": security.get("capabilities"),
            "id_mappings": host.get("idMappings"), "cgroup_version": host.get("cgroupVersion"),
            "cgroup_manager": host.get("cgroupManager"), "storage_driver": store.get("graphDriverName"),
            "data_root": root, "data_root_filesystem": filesystem_of(root) if root else None,
        }

    def factors(self, ctx: RunContext) -> dict:
        per_copy = ctx.settings["cpuset"] == "per-copy"
        return {
            "network": effective_network(ctx),
            "cpuset": ctx.settings["cpuset"],
            "pinning": "sched_setaffinity inside (rootless cgroup v1 ignores cpusets)" if per_copy else "none",
            "copies_per_container": ctx.settings["copies_per_container"],
            "containers": len(container_groups(ctx)),
            "rootless_user": ctx.settings["user"],
            "hardening": HARDENING,
            "pids_limit_applied": " ".join(pids_options(ctx.settings)) or
                                  f"ulimits.nproc {ctx.settings['ulimits']['nproc']} (the site's)",
            "memory_limit_mb": ctx.settings.get("memory_limit_mb"),
            **site_factor_options(ctx)[1],
        }

    def ensure_image(self, settings, reference: str) -> None:
        if self.podman(settings, "image", "exists", reference, timeout=60).returncode == 0:
            return
        proc = self.podman(settings, "pull", "--quiet", reference, timeout=1800)
        if proc.returncode != 0:
            raise ModeError(f"rootless podman pull {reference}: {proc.stderr.strip()[-500:]}")

    def remove_leftovers(self, settings, ctx: RunContext) -> list[str]:
        """Containers of an earlier attempt of this run into this results dir (never another's)."""
        mine = labels(ctx)
        ids = self.podman(settings, "ps", "-aq", "--filter", f"label={RUN_LABEL}={ctx.run_id}", "--filter",
                          f"label={RESULTS_LABEL}={mine[RESULTS_LABEL]}", timeout=60).stdout.split()
        if ids:
            self.podman(settings, "rm", "-f", *ids, timeout=120)
        return ids

    def run(self, ctx: RunContext) -> RunOutcome:
        settings, out_dir = ctx.settings, ctx.out_dir
        user = self._user(settings)
        self.ensure_image(settings, ctx.image_ref)
        self.remove_leftovers(settings, ctx)
        prepare_run_dir(out_dir, host_id_for(PAYLOAD_UID, user.pw_name, "/etc/subuid"),
                        host_id_for(PAYLOAD_GID, user.pw_name, "/etc/subgid"))
        check_reachable(user, out_dir)
        site_options, record = site_factor_options(ctx)
        if isinstance(record["seccomp"], dict):  # podman opens a site profile as the rootless user
            check_readable(user, Path(record["seccomp"]["profile"]))
        groups = container_groups(ctx)
        pin = settings["cpuset"] == "per-copy"
        start_at = start_barrier(len(groups), START_S_PER_CONTAINER, base_s=BARRIER_BASE_S)
        procs, env_exit, killed, readback, read_back = [], {}, set(), [], []
        try:
            for k, copies in enumerate(groups):
                name = environment_name(ctx, k)
                # no --rm: the engine's record is read back after the run, then removed
                argv = ["run", "--name", name, *hardened_options(ctx, out_dir), *site_options, ctx.image_ref,
                        *launcher_argv(ctx, copies, start_at, pin=pin)]
                log = open(out_dir / f"launcher-{k}.log", "wb")
                procs.append((self.podman(settings, *argv, popen=True, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT), copies, name, log))
            deadline = start_at + ctx.timeout_s + HOST_GRACE_S
            for proc, copies, name, log in procs:
                try:
                    status = proc.wait(timeout=max(1.0, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    self.podman(settings, "kill", name, timeout=60)
                    status = proc.wait(timeout=120)
                    killed.update(copies)
                for i in copies:
                    env_exit[i] = status
                hardening, factors = self._read_back(settings, name)
                readback.append(hardening)
                read_back.append(factors)
        finally:
            for proc, _, name, log in procs:
                self.podman(settings, "rm", "-f", name, timeout=120)
                if proc.poll() is None:
                    proc.wait()
                log.close()
        return RunOutcome(collect(out_dir, ctx.copies, env_exit, killed),
                          {**self.factors(ctx), "engine_readback": readback,
                           # the site factors as the engine took them (read after the run: podman
                           # run creates and starts in one step)
                           "engine_read_back": read_back})

    def _read_back(self, settings, name: str) -> tuple[dict, dict]:
        """The engine's record of what the (exited) container got (`podman inspect`): its
        hardening (common.engine_readback) and its site factors (common.site_factor_read_back)."""
        proc = self.podman(settings, "inspect", "--type", "container", name, timeout=60)
        try:
            attrs = json.loads(proc.stdout)[0]
            return engine_readback(attrs), site_factor_read_back(attrs)
        except (ValueError, IndexError, TypeError, KeyError):
            error = {"container": name, "error": f"podman inspect exited {proc.returncode}: "
                                                 f"{proc.stderr.strip()[-300:]}"}
            return error, error

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """`podman run --rm` of argv as the rootless user, hardened, timed on the host."""
        t0 = time.perf_counter()
        proc = self.podman(ctx.settings, "run", "--rm", *hardened_options(ctx, None), *site_factor_options(ctx)[0],
                           ctx.image_ref, *argv, timeout=300)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise ModeError(f"startup sample {argv!r} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return StartupSample(elapsed)
