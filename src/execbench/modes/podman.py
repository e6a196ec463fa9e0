"""Rootless Podman mode: hardened containers started by an unprivileged host user.

The answer to "docker group = root": the engine runs as `execbench` (config
`modes.<name>.user`), inside that user's subordinate id range; the image is
pulled by digest from the local registry into the user's own storage.
On cgroup v1 rootless podman cannot apply CPU limits, so pinning is done by the
launcher inside (sched_setaffinity) whatever copies_per_container is.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from .base import (COPIES_PER_CONTAINER_SETTING, CPUSET_SETTING, MEMORY_LIMIT_SETTING, NETWORK_SETTING, Availability, Mode, ModeContext,
                   ModeError, RunContext, RunOutcome, StartupSample)
from .common import (BARRIER_BASE_S, HARDENING, HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RESULTS_LABEL, RUN_LABEL,
                     RUN_MOUNT, check_reachable, collect, container_groups, effective_network, engine_readback,
                     environment_name, labels, launcher_argv, prepare_run_dir, start_barrier)

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


def cgroup_v2() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def pids_options() -> list[str]:
    """The containers' process limit (HARDENING pids_limit). Rootless podman on cgroup v1 has no
    pids cgroup of its own (it ignores --pids-limit with a warning), so there the same number is
    the payload user's RLIMIT_NPROC, which counts that (subordinate) host uid's processes."""
    if cgroup_v2():
        return ["--pids-limit", str(HARDENING["pids_limit"])]
    return ["--ulimit", f"nproc={HARDENING['pids_limit']}:{HARDENING['pids_limit']}"]


def hardened_options(ctx: RunContext, out_dir: Path | None) -> list[str]:
    opts = ["--user", HARDENING["user"], "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            # only our /tmp tmpfs is writable, as in docker (podman would add /run, /var/tmp)
            "--read-only", "--read-only-tmpfs=false", "--network", effective_network(ctx), *pids_options()]
    for key, value in labels(ctx).items():
        opts += ["--label", f"{key}={value}"]
    for path, options in HARDENING["tmpfs"].items():
        opts += ["--tmpfs", f"{path}:{options}"]
    if ctx.settings.get("memory_limit_mb"):  # cgroup v2 only (available() says so on v1)
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
        "memory_limit_mb": MEMORY_LIMIT_SETTING,
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
        if settings.get("memory_limit_mb") and not cgroup_v2():
            # rootless podman on cgroup v1 ignores --memory with a warning: a limit asked for is
            # never silently absent from a run that records it
            return Availability(False, "memory_limit_mb is set, and rootless podman cannot enforce a memory "
                                       "limit on cgroup v1 (this host); unset it or use cgroup v2")
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
            proc = self.podman(settings, "info", "--format", "{{.Host.Security.Rootless}}", timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            return Availability(False, f"'podman info' as {user.pw_name} failed: {err}")
        if proc.returncode != 0 or proc.stdout.strip() != "true":
            return Availability(False, f"rootless 'podman info' as {user.pw_name} failed: {proc.stderr.strip()[-400:]}")
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
            "pids_limit_applied": " ".join(pids_options()),
            "memory_limit_mb": ctx.settings.get("memory_limit_mb"),
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
        groups = container_groups(ctx)
        pin = settings["cpuset"] == "per-copy"
        start_at = start_barrier(len(groups), START_S_PER_CONTAINER, base_s=BARRIER_BASE_S)
        procs, env_exit, killed, readback = [], {}, set(), []
        try:
            for k, copies in enumerate(groups):
                name = environment_name(ctx, k)
                # no --rm: the engine's record is read back after the run, then removed
                argv = ["run", "--name", name, *hardened_options(ctx, out_dir), ctx.image_ref,
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
                readback.append(self._read_back(settings, name))
        finally:
            for proc, _, name, log in procs:
                self.podman(settings, "rm", "-f", name, timeout=120)
                if proc.poll() is None:
                    proc.wait()
                log.close()
        return RunOutcome(collect(out_dir, ctx.copies, env_exit, killed),
                          {**self.factors(ctx), "engine_readback": readback})

    def _read_back(self, settings, name: str) -> dict:
        """The engine's record of what the (exited) container got (`podman inspect`)."""
        proc = self.podman(settings, "inspect", "--type", "container", name, timeout=60)
        try:
            return engine_readback(json.loads(proc.stdout)[0])
        except (ValueError, IndexError, TypeError):
            return {"container": name, "error": f"podman inspect exited {proc.returncode}: "
                                                f"{proc.stderr.strip()[-300:]}"}

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """`podman run --rm` of argv as the rootless user, hardened, timed on the host."""
        t0 = time.perf_counter()
        proc = self.podman(ctx.settings, "run", "--rm", *hardened_options(ctx, None), ctx.image_ref, *argv,
                           timeout=300)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise ModeError(f"startup sample {argv!r} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return StartupSample(elapsed)
