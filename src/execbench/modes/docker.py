"""Docker mode: copies run in hardened containers of the image (by digest), via the docker SDK."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .base import (COPIES_PER_CONTAINER_SETTING, CPU_LIMIT_SETTING, CPUSET_SETTING, MEMORY_LIMIT_SETTING,
                   NETWORK_SETTING, SECCOMP_SETTING, SHM_SIZE_SETTING, ULIMITS_SETTING, Availability, Mode,
                   ModeContext, ModeError, RunContext, RunOutcome, StartupSample)
from .common import (BARRIER_BASE_S, HARDENING, HOST_GRACE_S, PAYLOAD_GID, PAYLOAD_UID, RESULTS_LABEL, RUN_LABEL,
                     RUN_MOUNT, collect, container_groups, effective_network, engine_readback, environment_name,
                     labels, launcher_argv, prepare_run_dir, site_factor_read_back, site_factors, start_barrier)

# Container create+start takes ~0.3-1 s here; the barrier leaves room for each.
START_S_PER_CONTAINER = 0.5  # docker run of a pulled image: ~0.3 s here (startup payload)


def _client():
    import docker

    return docker.from_env(timeout=120)


def hardened_kwargs(ctx: RunContext, out_dir: Path | None) -> dict:
    """docker SDK containers.create() arguments shared by every payload container."""
    kwargs = {
        "user": HARDENING["user"],
        "cap_drop": list(HARDENING["cap_drop"]),
        "security_opt": list(HARDENING["security_opt"]),
        "read_only": HARDENING["read_only_rootfs"],
        "tmpfs": dict(HARDENING["tmpfs"]),
        "pids_limit": HARDENING["pids_limit"],
        "network_mode": effective_network(ctx),
        "labels": labels(ctx),
        "detach": True,
    }
    if ctx.settings.get("memory_limit_mb"):
        limit = f"{int(ctx.settings['memory_limit_mb'])}m"
        kwargs.update(mem_limit=limit, memswap_limit=limit)
    if out_dir is not None:
        kwargs["volumes"] = {str(out_dir.resolve()): {"bind": RUN_MOUNT, "mode": "rw"}}
        kwargs["working_dir"] = RUN_MOUNT
    return kwargs


def site_factor_kwargs(ctx: RunContext) -> tuple[dict, dict]:
    """containers.create() arguments for the site factors (modes/common.py: site_factors;
    memory_limit_mb is applied by hardened_kwargs) and their record. A site seccomp profile is
    sent as its content (what `docker run --security-opt seccomp=FILE` does: the engine API
    takes the profile, not a path)."""
    import docker

    factors = site_factors(ctx.settings)
    kwargs: dict = {"security_opt": [], **factors.cpu}
    if factors.seccomp == "unconfined":
        kwargs["security_opt"] = ["seccomp=unconfined"]
    elif factors.seccomp is not None:
        kwargs["security_opt"] = [f"seccomp={factors.seccomp_profile}"]
    if factors.shm_size:
        kwargs["shm_size"] = factors.shm_size
    if factors.ulimits:
        kwargs["ulimits"] = [docker.types.Ulimit(name=name, soft=v["soft"], hard=v["hard"])
                             for name, v in factors.ulimits.items()]
    return kwargs, factors.record


def engine_read_back(client, container) -> dict:
    """The site factors as the engine holds them for `container` (docker inspect HostConfig)."""
    return site_factor_read_back(client.api.inspect_container(container.id))


def with_site_factors(kwargs: dict, site_kwargs: dict) -> dict:
    """hardened_kwargs with the site factors added (security options appended, not replaced)."""
    out = dict(kwargs, **{k: v for k, v in site_kwargs.items() if k != "security_opt"})
    out["security_opt"] = list(kwargs.get("security_opt", [])) + list(site_kwargs.get("security_opt", []))
    return out


def _read_back(container) -> dict:
    """The engine's record of what the (exited) container got: inspect after the run, so the
    payload's time is never touched."""
    try:
        container.reload()
        return engine_readback(container.attrs)
    except Exception as err:  # recorded: the audit says the hardening could not be read back
        return {"container": container.name, "error": f"{type(err).__name__}: {err}"[:300]}


class DockerMode(Mode):
    kind = "docker"
    description = "Docker engine via the Python SDK, hardened (non-root, no capabilities, no-new-privileges, read-only root)"
    settings_schema = {"network": NETWORK_SETTING, "cpuset": CPUSET_SETTING,
                       "copies_per_container": COPIES_PER_CONTAINER_SETTING, "memory_limit_mb": MEMORY_LIMIT_SETTING,
                       "seccomp": SECCOMP_SETTING, "cpu_limit": CPU_LIMIT_SETTING, "shm_size": SHM_SIZE_SETTING,
                       "ulimits": ULIMITS_SETTING}

    def available(self, ctx: ModeContext) -> Availability:
        try:
            _client().ping()
        except Exception as err:  # no socket, daemon down, permission denied
            return Availability(False, f"docker engine not reachable: {err}")
        return Availability(True)

    def versions(self, ctx: ModeContext) -> dict:
        import docker

        client = _client()
        version, info = client.version(), client.info()
        components = {c["Name"]: c.get("Version") for c in version.get("Components", [])}
        return {
            "engine": f"docker {version.get('Version')}",
            "api": version.get("ApiVersion"),
            "containerd": components.get("containerd"),
            "runtime": f"runc {components.get('runc')}" if components.get("runc") else info.get("DefaultRuntime"),
            "storage_driver": info.get("Driver"),
            "cgroup_version": info.get("CgroupVersion"),
            "docker_sdk": docker.__version__,
        }

    def security_facts(self, ctx: ModeContext) -> dict:
        """`docker info`'s security options (seccomp profile, apparmor, selinux, userns, rootless),
        cgroup version and driver, storage driver, its backing filesystem and the data root's
        filesystem on the host (type and options: xfs inode64, ...)."""
        from ..hostaudit import filesystem_of

        info = _client().info()
        options = info.get("SecurityOptions") or []
        driver_status = {k: v for k, v in info.get("DriverStatus") or []}
        root = info.get("DockerRootDir")
        return {
            "engine": "docker", "server_version": info.get("ServerVersion"), "security_options": options,
            "seccomp_profile": next((o.split("profile=", 1)[1] for o in options
                                     if o.startswith("name=seccomp") and "profile=" in o), None),
            "userns": any(o.startswith("name=userns") for o in options),
            "rootless": any(o.startswith("name=rootless") for o in options),
            "apparmor": any(o.startswith("name=apparmor") for o in options),
            "selinux": any(o.startswith("name=selinux") for o in options),
            "cgroup_version": info.get("CgroupVersion"), "cgroup_driver": info.get("CgroupDriver"),
            "storage_driver": info.get("Driver"), "backing_filesystem": driver_status.get("Backing Filesystem"),
            "data_root": root, "data_root_filesystem": filesystem_of(root) if root else None,
            "default_runtime": info.get("DefaultRuntime"),
        }

    def factors(self, ctx: RunContext) -> dict:
        per_copy = ctx.settings["cpuset"] == "per-copy"
        one = ctx.settings["copies_per_container"] == "one"
        return {
            "network": effective_network(ctx),
            "cpuset": ctx.settings["cpuset"],
            "pinning": ("container cpuset_cpus" if one else "sched_setaffinity inside") if per_copy else "none",
            "copies_per_container": "one" if one else "all",
            "containers": len(container_groups(ctx)),
            "hardening": HARDENING,
            "memory_limit_mb": ctx.settings.get("memory_limit_mb"),
            **site_factor_kwargs(ctx)[1],
        }

    def ensure_image(self, client, reference: str):
        import docker

        try:
            return client.images.get(reference)
        except docker.errors.ImageNotFound:
            pass
        try:
            client.api.pull(reference)
            return client.images.get(reference)
        except docker.errors.APIError as err:
            raise ModeError(f"cannot pull {reference}: {err.explanation or err}") from None

    def remove_leftovers(self, client, ctx: RunContext) -> list[str]:
        """Containers of an earlier attempt of this run into this results dir (e.g. the harness
        was killed); another results dir's run of the same name is not touched."""
        gone = []
        mine = labels(ctx)
        wanted = [f"{RUN_LABEL}={ctx.run_id}", f"{RESULTS_LABEL}={mine[RESULTS_LABEL]}"]
        for container in client.containers.list(all=True, filters={"label": wanted}):
            container.remove(force=True)
            gone.append(container.name)
        return gone

    def run(self, ctx: RunContext) -> RunOutcome:
        out_dir = ctx.out_dir
        client = _client()
        self.ensure_image(client, ctx.image_ref)
        self.remove_leftovers(client, ctx)
        prepare_run_dir(out_dir, PAYLOAD_UID, PAYLOAD_GID)
        groups = container_groups(ctx)
        per_copy = ctx.settings["cpuset"] == "per-copy"
        one = ctx.settings["copies_per_container"] == "one"
        start_at = start_barrier(len(groups), START_S_PER_CONTAINER, base_s=BARRIER_BASE_S)
        cpus = sorted(os.sched_getaffinity(0))
        containers, env_exit, killed, readback, read_back = [], {}, set(), [], []
        site_kwargs, _ = site_factor_kwargs(ctx)
        try:
            for k, copies in enumerate(groups):
                kwargs = with_site_factors(hardened_kwargs(ctx, out_dir), site_kwargs)
                if per_copy and one:
                    kwargs["cpuset_cpus"] = str(cpus[copies[0] % len(cpus)])
                argv = launcher_argv(ctx, copies, start_at, pin=per_copy and not one)
                container = client.containers.create(ctx.image_ref, argv, name=environment_name(ctx, k), **kwargs)
                containers.append((container, copies))
                read_back.append(engine_read_back(client, container))
                container.start()
            deadline = start_at + ctx.timeout_s + HOST_GRACE_S
            for k, (container, copies) in enumerate(containers):
                try:
                    status = container.wait(timeout=max(1.0, deadline - time.time()))["StatusCode"]
                except Exception:  # requests ReadTimeout / ConnectionError: past the host deadline
                    container.kill()
                    status = container.wait(timeout=60)["StatusCode"]
                    killed.update(copies)
                for i in copies:
                    env_exit[i] = status
                # the launcher's own output (not the payload's): kept next to the copies
                (out_dir / f"launcher-{k}.log").write_bytes(container.logs(stdout=True, stderr=True))
                readback.append(_read_back(container))
        finally:
            for container, _ in containers:
                try:
                    container.remove(force=True)
                except Exception:
                    pass
        return RunOutcome(collect(out_dir, ctx.copies, env_exit, killed),
                          {**self.factors(ctx), "engine_readback": readback,
                           # the site factors as the engine took them, before the start
                           "engine_read_back": read_back})

    def startup_sample(self, ctx: RunContext, argv: list[str]) -> StartupSample:
        """`docker run --rm` of argv, hardened, timed from create to removed."""
        client = _client()  # one client per call: the SDK's session is not shared across threads
        kwargs = with_site_factors(hardened_kwargs(ctx, None), site_factor_kwargs(ctx)[0])
        t0 = time.perf_counter()
        container = client.containers.create(ctx.image_ref, argv, **kwargs)
        try:
            container.start()
            status = container.wait()["StatusCode"]
        finally:
            container.remove(force=True)
        elapsed = time.perf_counter() - t0
        if status != 0:
            raise ModeError(f"startup sample {argv!r} exited {status}")
        return StartupSample(elapsed)
