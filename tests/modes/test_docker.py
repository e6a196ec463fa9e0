"""Docker mode: the hardening it asks for, and what a container of the real test image gets."""

from __future__ import annotations

import contextlib
import os

import pytest
from helpers import PROBE_ARGV, assert_hardened, probe, run_context
from test_common import spec

from execbench.modes import docker
from execbench.modes.docker import DockerMode


def test_docker_hardening_defaults(tmp_path):
    kwargs = docker.hardened_kwargs(spec(), tmp_path)
    assert kwargs["user"] == "10001:10001"
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges"]
    assert kwargs["read_only"] is True
    assert list(kwargs["tmpfs"]) == ["/tmp"]
    assert kwargs["network_mode"] == "none"
    assert kwargs["pids_limit"] == 4096  # a fork bomb stops at the container
    # the run's own dir is the only host path in the container
    assert kwargs["volumes"] == {str(tmp_path.resolve()): {"bind": "/execbench/run", "mode": "rw"}}
    assert docker.hardened_kwargs(spec(needs_network=True), tmp_path)["network_mode"] == "bridge"
    assert docker.hardened_kwargs(spec({"network": "host"}), tmp_path)["network_mode"] == "host"


@pytest.mark.docker
def test_docker_container_is_hardened(modes_image, shared_dir):
    out = shared_dir / "hardened-docker"
    outcome = DockerMode().run(run_context(modes_image, "docker", PROBE_ARGV, out))
    results = outcome.copies
    assert results[0].exit_code == 0, (out / "copy0" / "stderr.log").read_text()
    assert_hardened(probe(out))
    # what the engine itself recorded for the container, read back after the run
    [readback] = outcome.factors["engine_readback"]
    assert readback["user"] == "10001:10001" and readback["CapDrop"] == ["ALL"] and not readback["CapAdd"]
    assert readback["SecurityOpt"] == ["no-new-privileges"] and readback["ReadonlyRootfs"] is True
    assert readback["Privileged"] is False and readback["NetworkMode"] == "none"
    assert [(m["source"], m["destination"]) for m in readback["mounts"] if m["type"] == "bind"] == [
        (str(out.resolve()), "/execbench/run")]
    assert probe(out)["pids_max"] == "4096"  # R11: the container's own pids cgroup
    # the container's own cgroup saw at least the copy's CPU (python startup is not free)
    assert results[0].env_cgroup_cpu_s is not None and results[0].cpu_s > 0
    assert results[0].env_cgroup_cpu_s >= 0.5 * results[0].cpu_s

@pytest.mark.docker
def test_a_memory_limit_is_applied_and_recorded_and_there_is_none_by_default(modes_image, shared_dir):
    """issue 13 item 7: a memory limit is a recorded factor (memory_limit_mb), none by default as
    on bare metal; set, the container's own memory cgroup has it, swap included."""
    assert "mem_limit" not in docker.hardened_kwargs(spec(), None)
    out = shared_dir / "memory-limit"
    ctx = run_context(modes_image, "docker", PROBE_ARGV, out, settings={"memory_limit_mb": 256})
    assert docker.hardened_kwargs(ctx, None)["memswap_limit"] == "256m"
    assert DockerMode().factors(ctx)["memory_limit_mb"] == 256
    assert DockerMode().run(ctx).copies[0].exit_code == 0, (out / "copy0" / "stderr.log").read_text()
    assert probe(out)["memory_max"] == str(256 * 2**20)


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

@pytest.mark.docker
def test_network_factor_reaches_the_container(modes_image, shared_dir):
    out = shared_dir / "net-host"
    ctx = run_context(modes_image, "docker", PROBE_ARGV, out, settings={"network": "host"})
    assert DockerMode().factors(ctx)["network"] == "host"
    outcome = DockerMode().run(ctx)
    assert outcome.copies[0].exit_code == 0
    assert outcome.factors["engine_readback"][0]["NetworkMode"] == "host"  # as the engine applied it
    assert set(probe(out)["net"]) == set(os.listdir("/sys/class/net"))  # the host's interfaces


@pytest.mark.docker
def test_r13_a_run_removes_only_its_own_results_dirs_leftovers(modes_image, shared_dir):
    """R13: two checkouts (results dirs) run the same run id on one engine; neither removes the
    other's container. Names and labels carry the results dir's tag."""
    import docker as docker_sdk

    client = docker_sdk.from_env()
    ours = run_context(modes_image, "docker", ["true"], shared_dir / "checkout-a" / "raw/argv/docker/1c/r1")
    theirs = run_context(modes_image, "docker", ["true"], shared_dir / "checkout-b" / "raw/argv/docker/1c/r1")
    theirs_left = client.containers.create(modes_image["reference"], ["true"], name=docker.environment_name(theirs, 0),
                                           labels=docker.labels(theirs))
    try:
        assert docker.environment_name(ours, 0) != theirs_left.name
        assert DockerMode().run(ours).copies[0].exit_code == 0  # removes its own leftovers first
        theirs_left.reload()  # still there: not ours
        assert DockerMode().remove_leftovers(client, theirs) == [theirs_left.name]
    finally:
        with contextlib.suppress(docker_sdk.errors.NotFound):
            theirs_left.remove(force=True)
