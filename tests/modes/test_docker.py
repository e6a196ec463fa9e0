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


BUSY_ARGV = ["python3", "-c", "import time\nwhile time.process_time() < 0.3: pass"]


@pytest.mark.docker
def test_site_factors_reach_the_container_read_back_from_the_engine_and_inside(modes_image, shared_dir):
    """seccomp unconfined, a CFS quota of a tenth of a CPU (little enough to throttle even on a
    loaded host, where a copy gets a third of a core anyway), shm_size, ulimits and a memory limit: what the
    engine holds (docker inspect) and what the copy saw (launcher fingerprint), with throttling."""
    out = shared_dir / "site-factors"
    settings = {"seccomp": "unconfined", "cpu_limit": {"kind": "quota", "cpus": 0.1},
                "shm_size": "256m", "ulimits": {"nofile": {"soft": 4096, "hard": 8192}}, "memory_limit_mb": 512}
    outcome = DockerMode().run(run_context(modes_image, "docker", BUSY_ARGV, out, settings=settings))
    assert outcome.copies[0].exit_code == 0, (out / "launcher-0.log").read_text()
    engine = outcome.factors["engine_read_back"][0]
    assert "seccomp=unconfined" in engine["SecurityOpt"] and "no-new-privileges" in engine["SecurityOpt"]
    assert (engine["CpuQuota"], engine["CpuPeriod"]) == (10_000, 100_000)
    assert engine["ShmSize"] == 256 * 2 ** 20 and engine["Memory"] == 512 * 2 ** 20
    assert engine["Ulimits"] == [{"Name": "nofile", "Soft": 4096, "Hard": 8192}]
    assert outcome.factors["cpu_limit"] == {"kind": "quota", "cpu_period": 100_000, "cpu_quota": 10_000}
    seen = outcome.copies[0].environment
    assert seen["seccomp"] == 0 and seen["seccomp_filters"] == 0
    assert seen["cgroup"]["cpu_quota_us"] == 10_000 and seen["cgroup"]["cpu_period_us"] == 100_000
    assert seen["cgroup"]["memory_limit_bytes"] == 512 * 2 ** 20
    assert seen["shm_bytes"] == 256 * 2 ** 20 and seen["rlimits"]["nofile"] == [4096, 8192]
    # 0.3 s of CPU at 0.1 CPU: ~3 s, throttled in most of its 100 ms periods, counted inside
    assert outcome.copies[0].cpu_throttling["nr_throttled"] >= 3
    assert outcome.copies[0].cpu_throttling["throttled_s"] > 0.1


@pytest.mark.docker
def test_seccomp_profiles_cpuset_and_shares_reach_the_container(modes_image, shared_dir, tmp_path):
    """The engine's default filter and a site profile both filter (Seccomp: 2 inside, profile read
    back by sha256); a cpuset of one core and HTCondor-style shares, from the engine and inside."""
    import hashlib
    import json

    profile = tmp_path / "site-seccomp.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}))
    runs = {"default": {"cpu_limit": {"kind": "cpuset", "cpus": 1}},
            "site": {"seccomp": str(profile), "cpu_limit": {"kind": "shares", "shares": 200}}}
    for name, settings in runs.items():
        out = shared_dir / f"seccomp-{name}"
        outcome = DockerMode().run(run_context(modes_image, "docker", ["true"], out, settings=settings))
        assert outcome.copies[0].exit_code == 0, (out / "launcher-0.log").read_text()
        engine, seen = outcome.factors["engine_read_back"][0], outcome.copies[0].environment
        assert seen["seccomp"] == 2 and seen["seccomp_filters"] >= 1
        if name == "default":
            first = sorted(os.sched_getaffinity(0))[0]
            assert engine["CpusetCpus"] == str(first) and seen["cgroup"]["cpuset_cpus"] == str(first)
            assert seen["visible_cpus"] == [first] and outcome.factors["seccomp"] == "engine default"
        else:
            digest = hashlib.sha256(profile.read_text().encode()).hexdigest()
            assert f"seccomp=sha256:{digest}" in engine["SecurityOpt"]
            assert outcome.factors["seccomp"] == {"profile": str(profile.resolve()), "sha256": digest}
            assert engine["CpuShares"] == 200 and seen["cgroup"]["cpu_weight_or_shares"] == 200


def test_site_factor_settings_that_cannot_be_applied_are_named(tmp_path):
    from execbench.modes.base import ModeError

    with pytest.raises(ModeError, match="seccomp profile .*missing.json"):
        docker.site_factor_kwargs(run_context({"reference": "x"}, "docker", ["true"], tmp_path,
                                              settings={"seccomp": str(tmp_path / "missing.json")}))
    with pytest.raises(ModeError, match="choose one"):
        docker.site_factor_kwargs(run_context({"reference": "x"}, "docker", ["true"], tmp_path, settings={
            "cpuset": "per-copy", "copies_per_container": "one", "cpu_limit": {"kind": "cpuset", "cpus": 1}}))
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
