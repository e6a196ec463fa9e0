"""Rootless Podman mode: the hardening it asks for, the id mapping, and a real rootless container."""

from __future__ import annotations

import json
import os
import re
import resource
from pathlib import Path

import pytest
from helpers import (
    PROBE_ARGV,
    assert_hardened,
    mode_context,
    podman_or_skip,
    probe,
    run_context,
)
from test_common import spec

from execbench.modes import docker, podman
from execbench.modes.base import ModeError


def test_podman_hardening_defaults(tmp_path):
    opts = podman.hardened_options(spec(), tmp_path)
    pairs = list(zip(opts, opts[1:]))
    for pair in [("--user", "10001:10001"), ("--cap-drop", "ALL"), ("--security-opt", "no-new-privileges"),
                 ("--network", "none"), ("--volume", f"{tmp_path.resolve()}:/execbench/run:rw")]:
        assert pair in pairs
    assert "--read-only" in opts
    assert sum(o == "--volume" for o in opts) == 1

def test_rootless_id_mapping(tmp_path):
    subuid = tmp_path / "subuid"
    subuid.write_text("other:200000:65536\nexecbench:100000:65536\n")
    # container uid 0 is the user itself; container uid k>=1 is start + k - 1
    assert podman.host_id_for(10001, "execbench", str(subuid)) == 100000 + 10001 - 1 == 110000
    with pytest.raises(Exception, match="no range"):
        podman.host_id_for(10001, "nobody-here", str(subuid))



@pytest.mark.podman
def test_rootless_podman_container_is_hardened(modes_image, shared_dir):
    mode = podman_or_skip()
    out = shared_dir / "hardened-podman"
    ctx = run_context(modes_image, "podman", PROBE_ARGV, out, settings={"user": "execbench"})
    outcome = mode.run(ctx)
    results = outcome.copies
    assert results[0].exit_code == 0, (out / "copy0" / "stderr.log").read_text()
    # what the engine recorded, read back after the run; the container is gone afterwards
    [readback] = outcome.factors["engine_readback"]
    assert readback["user"] == "10001:10001" and "CAP_SYS_CHROOT" in readback["CapDrop"] and not readback["CapAdd"]
    assert readback["SecurityOpt"] == ["no-new-privileges"] and readback["ReadonlyRootfs"] is True
    assert readback["Privileged"] is False and readback["NetworkMode"] == "none"
    assert mode.podman(ctx.settings, "container", "exists", readback["container"], timeout=60).returncode == 1
    seen = probe(out)
    assert_hardened(seen)
    # R11: a process limit (rootless on cgroup v1 has no pids cgroup: the user's RLIMIT_NPROC)
    assert seen["pids_max"] == "4096" if podman.cgroup_v2() else seen["max_processes"] == "4096"
    assert seen["ns"]["user"] != os.readlink("/proc/self/ns/user")  # rootless: its own user namespace
    assert mode.versions(mode_context("podman"))["rootless"] is True


V1_ROOTLESS_INFO = {"host": {"cgroupVersion": "v1", "cgroupManager": "cgroupfs", "cgroupControllers": []}}
V2_DELEGATED_INFO = {"host": {"cgroupVersion": "v2", "cgroupManager": "systemd",
                              "cgroupControllers": ["cpu", "io", "memory", "pids"]}}


def settings_of(**settings) -> dict:
    return mode_context("podman", settings).settings


def test_limits_rootless_podman_cannot_apply_are_named_given_podman_info():
    """A CPU or memory limit needs its controller delegated to the rootless user (podman info
    host.cgroupControllers; [] on cgroup v1, where podman drops limits with a warning), and a
    ulimit cannot exceed the hard limit podman inherits: each is a reason naming the setting."""
    quota = settings_of(cpu_limit={"kind": "quota", "cpus": 0.5}, memory_limit_mb=512)
    [reason] = podman.limits_not_applicable(quota, V1_ROOTLESS_INFO)
    assert reason.startswith("cpu_limit kind quota needs the `cpu` cgroup controller; memory_limit_mb 512 needs "
                             "the `memory` cgroup controller, and user execbench's cgroup has no controllers "
                             "delegated (podman info: cgroup v1, manager cgroupfs)")
    assert podman.limits_not_applicable(quota, V2_DELEGATED_INFO) == []
    [cpuset] = podman.limits_not_applicable(settings_of(cpu_limit={"kind": "cpuset", "cpus": 1}), V2_DELEGATED_INFO)
    assert "needs the `cpuset` cgroup controller, and user execbench's cgroup has cpu, io, memory, pids" in cpuset
    assert podman.limits_not_applicable(settings_of(cpu_limit={"kind": "shares", "shares": 200}),
                                        V2_DELEGATED_INFO) == []
    # HEPscore's >= 100k open files: possible only under a hard limit at least that high
    hep = settings_of(ulimits={"nofile": {"soft": 100000, "hard": 100000}})
    [nofile] = podman.limits_not_applicable(hep, V2_DELEGATED_INFO, hard_limit=lambda name: 20000)
    assert nofile.startswith("ulimits.nofile soft 100000 is above the hard limit 20000 that rootless podman inherits")
    assert podman.limits_not_applicable(hep, V2_DELEGATED_INFO, hard_limit=lambda name: 1048576) == []
    unlimited = settings_of(ulimits={"memlock": {"soft": -1, "hard": -1}})
    assert "memlock soft unlimited" in podman.limits_not_applicable(unlimited, {}, hard_limit=lambda name: 65536)[0]


def test_podman_spells_the_site_factors_docker_has():
    """The same settings give the same record as docker (one helper, modes/common.py) and the
    podman run options for it; the hardening's nproc on cgroup v1 gives way to a site's own."""
    settings = {"seccomp": "unconfined", "cpu_limit": {"kind": "quota", "cpus": 0.25, "period_us": 50000},
                "shm_size": "1g", "ulimits": {"nofile": {"soft": 4096, "hard": 8192}, "nproc": {"soft": 500, "hard": 600}}}
    ctx = run_context({"reference": "x"}, "podman", ["true"], Path("/nonexistent"), settings=settings)
    opts, record = podman.site_factor_options(ctx)
    assert opts == ["--security-opt", "seccomp=unconfined", "--cpu-period", "50000", "--cpu-quota", "12500",
                    "--shm-size", "1g", "--ulimit", "nofile=4096:8192", "--ulimit", "nproc=500:600"]
    assert record == docker.site_factor_kwargs(
        run_context({"reference": "x"}, "docker", ["true"], Path("/nonexistent"), settings=settings))[1]
    assert record["cpu_limit"] == {"kind": "quota", "cpu_period": 50000, "cpu_quota": 12500}
    if not podman.cgroup_v2():
        assert "nproc=4096:4096" not in podman.hardened_options(ctx, None)
        assert "nproc=4096:4096" in podman.hardened_options(spec(), None)
    opts = podman.hardened_options(spec({"memory_limit_mb": 512}), None)
    assert ("--memory", "512m") in zip(opts, opts[1:]) and ("--memory-swap", "512m") in zip(opts, opts[1:])
    assert "--memory" not in podman.hardened_options(spec(), None)
    shares = run_context({"reference": "x"}, "podman", ["true"], Path("/nonexistent"),
                         settings={"cpu_limit": {"kind": "shares", "shares": 200}})
    assert podman.site_factor_options(shares)[0] == ["--cpu-shares", "200"]


@pytest.mark.podman
def test_site_factors_reach_a_rootless_podman_container_read_back_from_podman_and_inside(modes_image, shared_dir):
    """seccomp unconfined, then a site profile (passed by path: podman opens it as the rootless
    user), /dev/shm size and an open-files limit under the inherited hard limit: what `podman
    inspect` holds and what the copy saw (launcher fingerprint)."""
    import hashlib

    mode = podman_or_skip()
    profile = shared_dir / "podman-site-seccomp.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}))
    profile.chmod(0o644)
    runs = {"unconfined": {"seccomp": "unconfined", "shm_size": "256m",
                           "ulimits": {"nofile": {"soft": 1024, "hard": 2048}}},
            "site": {"seccomp": str(profile)}}
    for name, settings in runs.items():
        out = shared_dir / f"podman-factors-{name}"
        outcome = mode.run(run_context(modes_image, "podman", ["true"], out, settings={"user": "execbench", **settings}))
        assert outcome.copies[0].exit_code == 0, (out / "launcher-0.log").read_text()
        [engine], seen = outcome.factors["engine_read_back"], outcome.copies[0].environment
        if name == "unconfined":
            assert "seccomp=unconfined" in engine["SecurityOpt"] and "no-new-privileges" in engine["SecurityOpt"]
            assert seen["seccomp"] == 0 and seen["seccomp_filters"] == 0
            assert engine["ShmSize"] == 256 * 2 ** 20 and seen["shm_bytes"] == 256 * 2 ** 20
            assert {"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 2048} in engine["Ulimits"]
            assert seen["rlimits"]["nofile"] == [1024, 2048]
            assert outcome.factors["shm_size"] == "256m"
        else:
            digest = hashlib.sha256(profile.read_text().encode()).hexdigest()
            assert outcome.factors["seccomp"] == {"profile": str(profile.resolve()), "sha256": digest}
            assert f"seccomp={profile.resolve()}" in engine["SecurityOpt"]
            assert seen["seccomp"] == 2 and seen["seccomp_filters"] >= 1


@pytest.mark.podman
def test_cpu_memory_and_open_file_limits_apply_where_this_host_allows_them_else_unavailable(modes_image, shared_dir):
    """Each limit rootless podman needs a delegated controller (or a high enough inherited hard
    limit) for: where this host lacks it (cgroup v1 here: podman info lists no controllers; hard
    nofile 20000 here, below HEPscore's 100k), the mode is unavailable naming the setting and
    what is missing; where the host has it, one container shows it applied, from podman inspect
    and from inside."""
    mode = podman_or_skip()
    info = json.loads(mode.podman(mode_context("podman").settings, "info", "--format", "json", timeout=120).stdout)
    controllers = info["host"].get("cgroupControllers") or []
    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    settings = {"user": "execbench", "cpu_limit": {"kind": "quota", "cpus": 0.5}, "memory_limit_mb": 512,
                "ulimits": {"nofile": {"soft": 100000, "hard": 100000}}}
    availability = mode.available(mode_context("podman", settings))
    lacking = [what for what, ok in (("cpu_limit kind quota needs the `cpu`", "cpu" in controllers),
                                     ("memory_limit_mb 512 needs the `memory`", "memory" in controllers),
                                     ("ulimits.nofile soft 100000 is above", hard_nofile >= 100000)) if not ok]
    for what in lacking:
        assert what in availability.reason
    if lacking:
        assert not availability.ok
        return
    assert availability.ok, availability.reason
    out = shared_dir / "podman-limits"
    outcome = mode.run(run_context(modes_image, "podman", ["true"], out, settings=settings))
    assert outcome.copies[0].exit_code == 0, (out / "launcher-0.log").read_text()
    [engine], seen = outcome.factors["engine_read_back"], outcome.copies[0].environment
    assert (engine["CpuQuota"], engine["CpuPeriod"]) == (50_000, 100_000) and engine["Memory"] == 512 * 2 ** 20
    assert seen["cgroup"]["cpu_quota_us"] == 50_000 and seen["cgroup"]["memory_limit_bytes"] == 512 * 2 ** 20
    assert seen["rlimits"]["nofile"] == [100000, 100000]


def test_a_site_profile_rootless_podman_cannot_open_is_named(tmp_path):
    """pytest's tmp_path is 0700: the rootless user cannot reach a profile in it."""
    import pwd

    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    other = pwd.struct_passwd(("someone", "x", 64999, 64999, "", "/", "/bin/false"))
    with pytest.raises(ModeError, match=re.escape(f"{profile} is not reachable by user someone") + ".*lacks o\\+x"):
        podman.check_readable(other, profile)
