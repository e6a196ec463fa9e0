"""Modes with the real engines: a small real image (dev base + python3 + the launcher),
pushed to the local registry and used by digest, like the workflow does."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from _modes_image import (CACHE, ArgvPayload, make_config, mode_context, modes_image, run_context,  # noqa: F401
                          shared_dir)
from execbench.config import RunCell
from execbench.modes.bare import BareMode
from execbench.rootfs import _mount_points, export_rootfs
from execbench.modes.docker import RUN_LABEL, DockerMode
from execbench.modes.podman import PodmanMode
from execbench.runner import run_cell

# What a payload sees of its environment, printed as JSON by the image's own python3.
PROBE = r"""
import errno, json, os
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
mounts = [line.split() for line in open("/proc/self/mounts")]
try:
    open("/usr/execbench-probe", "w"); root_write = "ok"
except OSError as err:
    root_write = errno.errorcode[err.errno]
writable = []
for d in ("/tmp", "/var/tmp", "/run", "/home/execbench", "/dev/shm", "/opt/execbench"):
    try:
        open(f"{d}/probe-{os.getpid()}", "w").close()
        writable.append(d)
    except OSError:
        pass
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "cap_eff": status["CapEff"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(), "root_write": root_write,
    "root_opts": [m[3] for m in mounts if m[1] == "/"],
    "net": sorted(os.listdir("/sys/class/net")), "cwd": os.getcwd(),
    "run_mounted": any(m[1] == "/execbench/run" for m in mounts),
    "cpus": sorted(os.sched_getaffinity(0)), "writable": writable,
    "ns": {n: os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "net", "user")},
}))
"""
PROBE_ARGV = ["python3", "-c", PROBE]


def probe(out_dir: Path, copy: int = 0) -> dict:
    return json.loads((out_dir / f"copy{copy}" / "stdout.log").read_text())


def assert_hardened(seen: dict) -> None:
    assert seen["uid"] == 10001 and seen["gid"] == 10001
    assert int(seen["cap_eff"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["root_write"] == "EROFS" and "ro" in seen["root_opts"][-1].split(",")
    assert seen["net"] == ["lo"]
    assert seen["cwd"] == "/execbench/run/copy0" and seen["run_mounted"]
    assert seen["writable"] == ["/tmp", "/dev/shm"]  # scratch only, the same in every mode


def podman_or_skip() -> PodmanMode:
    mode = PodmanMode()
    availability = mode.available(mode_context("podman"))
    if not availability.ok:
        # not faked: the reason is what a run.json would carry
        assert availability.reason
        pytest.skip(f"rootless podman unavailable here: {availability.reason}")
    return mode


@pytest.mark.docker
def test_docker_container_is_hardened(modes_image, shared_dir):
    out = shared_dir / "hardened-docker"
    results = DockerMode().run(run_context(modes_image, "docker", PROBE_ARGV, out)).copies
    assert results[0].exit_code == 0, (out / "copy0" / "stderr.log").read_text()
    assert_hardened(probe(out))
    # the container's own cgroup saw at least the copy's CPU (python startup is not free)
    assert results[0].env_cgroup_cpu_s is not None and results[0].cpu_s > 0
    assert results[0].env_cgroup_cpu_s >= 0.5 * results[0].cpu_s


@pytest.mark.podman
def test_rootless_podman_container_is_hardened(modes_image, shared_dir):
    mode = podman_or_skip()
    out = shared_dir / "hardened-podman"
    results = mode.run(run_context(modes_image, "podman", PROBE_ARGV, out, settings={"user": "execbench"})).copies
    assert results[0].exit_code == 0, (out / "copy0" / "stderr.log").read_text()
    seen = probe(out)
    assert_hardened(seen)
    assert seen["ns"]["user"] != os.readlink("/proc/self/ns/user")  # rootless: its own user namespace
    assert mode.versions(mode_context("podman"))["rootless"] is True


@pytest.mark.docker
def test_same_binaries_in_bare_and_docker_and_bare_has_no_namespaces(modes_image, shared_dir):
    files = ["/usr/bin/python3.11", "/lib/x86_64-linux-gnu/libc.so.6", "/opt/execbench/execbench_launch.py"]
    argv = ["sha256sum", *files]
    sums = {}
    for mode_name, mode in (("bare", BareMode()), ("docker", DockerMode())):
        out = shared_dir / f"checksum-{mode_name}"
        assert mode.run(run_context(modes_image, mode_name, argv, out)).copies[0].exit_code == 0
        sums[mode_name] = (out / "copy0" / "stdout.log").read_text()
    assert sums["bare"] == sums["docker"] and len(sums["bare"].splitlines()) == 3
    # ... and it is the image's launcher, not the host's copy being run
    launcher_sum = hashlib.sha256(Path(__file__).parents[1].joinpath(
        "src/execbench/inimage/execbench_launch.py").read_bytes()).hexdigest()
    assert launcher_sum in sums["bare"]

    out = shared_dir / "bare-probe"
    ctx = run_context(modes_image, "bare", PROBE_ARGV, out)
    result = BareMode().run(ctx).copies[0]
    assert result.exit_code == 0
    assert result.env_cgroup_cpu_s is None  # no cgroup of its own: not the whole machine's either
    seen = probe(out)
    assert seen["uid"] == 10001 and int(seen["cap_eff"], 16) == 0
    assert seen["root_write"] == "EROFS"  # the cached image files cannot change between runs
    assert seen["writable"] == ["/tmp", "/dev/shm"]  # as in the containers
    assert seen["cwd"] == "/execbench/run/copy0" and seen["run_mounted"]
    assert seen["ns"] == {n: os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "net", "user")}
    root, _ = export_rootfs(ctx.image_ref, ctx.mode.cache_dir)
    assert not [p for p in _mount_points() if p.startswith(str(root) + "/")]  # all mounts gone again


@pytest.mark.docker
def test_one_container_per_copy_pinned_per_copy(modes_image, shared_dir):
    cpus = sorted(os.sched_getaffinity(0))
    out = shared_dir / "per-copy"
    settings = {"copies_per_container": "one", "cpuset": "per-copy", "network": "none"}
    results = DockerMode().run(run_context(modes_image, "docker", PROBE_ARGV, out, copies=2, settings=settings)).copies
    assert [r.exit_code for r in results] == [0, 0]
    assert sorted(p.name for p in out.glob("launcher-*.log")) == ["launcher-0.log", "launcher-1.log"]
    for i in (0, 1):
        assert probe(out, i)["cpus"] == [cpus[i % len(cpus)]]


def cell(mode: str, rep: int = 1, order: int = 0) -> RunCell:
    return RunCell(payload="argv", mode=mode, copies=1, repetition=rep, order_index=order)


@pytest.mark.docker
def test_failing_payload_yields_failed_run_with_logs(modes_image, shared_dir):
    config = make_config(shared_dir / "fail-results", modes_image)
    config["payloads"] = {"argv": {}}
    payload = ArgvPayload(["sh", "-c", "echo partial result; echo broken input >&2; exit 3"])
    run = run_cell(config, cell("bare"), payload=payload)
    assert run["status"] == "failed" and "exit code 3" in run["reason"]
    assert run["copies_result"][0]["exit_code"] == 3
    run_dir = Path(config["results"]) / "raw/argv/bare/1c/r1"
    assert (run_dir / "copy0/stdout.log").read_text() == "partial result\n"
    assert (run_dir / "copy0/stderr.log").read_text() == "broken input\n"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


@pytest.mark.docker
@pytest.mark.parametrize("engine", ["docker", pytest.param("podman", marks=pytest.mark.podman)])
def test_timed_out_payload_is_killed_and_its_container_removed(modes_image, shared_dir, engine):
    import docker

    mode = DockerMode() if engine == "docker" else podman_or_skip()
    config = make_config(shared_dir / f"timeout-{engine}", modes_image, modes={
        "docker": {"kind": "docker", "network": "none", "cpuset": "none", "copies_per_container": "all"},
        "podman": {"kind": "podman", "user": "execbench", "network": "none", "cpuset": "none",
                   "copies_per_container": "one"}})
    config["payloads"] = {"argv": {}}
    run = run_cell(config, cell(engine), payload=ArgvPayload(["sleep", "60"], timeout_s=2))
    assert run["status"] == "failed" and "timed out" in run["reason"]
    assert run["copies_result"][0]["timed_out"] is True
    assert 2.0 <= run["copies_result"][0]["wall_s"] < 10
    if engine == "docker":
        left = docker.from_env().containers.list(all=True, filters={"label": f"{RUN_LABEL}={run['run_id']}"})
    else:
        left = mode.podman(mode_context("podman").settings, "ps", "-aq", "--filter", f"label={RUN_LABEL}={run['run_id']}").stdout.split()
    assert left == []


@pytest.mark.docker
def test_network_factor_reaches_the_container(modes_image, shared_dir):
    out = shared_dir / "net-host"
    ctx = run_context(modes_image, "docker", PROBE_ARGV, out, settings={"network": "host"})
    assert DockerMode().factors(ctx)["network"] == "host"
    assert DockerMode().run(ctx).copies[0].exit_code == 0
    assert set(probe(out)["net"]) == set(os.listdir("/sys/class/net"))  # the host's interfaces


def test_bare_variant_host_runs_host_binaries(shared_dir, tmp_path):
    """variant host: no image, host binaries (recorded as such), still uid 10001."""
    from _modes_image import make_config

    config = make_config(shared_dir / "host-variant", {"name": "none", "reference": None, "digest": None},
                         modes={"bare-host": {"kind": "bare", "variant": "host", "cpuset": "none"}})
    payload = ArgvPayload(["sh", "-c", "id -u; sha256sum /usr/bin/sha256sum"])
    run = run_cell(config, RunCell("argv", "bare-host", 1, 1), payload=payload)
    assert run["status"] == "ok", run["reason"]
    assert run["factors"]["variant"] == "host" and "host binaries" in run["reason"]
    out = (shared_dir / "host-variant/raw/argv/bare-host/1c/r1/copy0/stdout.log").read_text().splitlines()
    assert out[0] == "10001"
    assert out[1].split()[0] == hashlib.sha256(Path("/usr/bin/sha256sum").read_bytes()).hexdigest()
