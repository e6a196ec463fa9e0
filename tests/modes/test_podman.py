"""Rootless Podman mode: the hardening it asks for, the id mapping, and a real rootless container."""

from __future__ import annotations

import os

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

from execbench.modes import podman


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


def test_a_memory_limit_rootless_podman_cannot_enforce_makes_the_mode_unavailable(monkeypatch):
    """Rootless podman on cgroup v1 ignores --memory with a warning: a run that records a limit
    must have had it, so the mode is unavailable with the reason instead."""
    monkeypatch.setattr(podman, "cgroup_v2", lambda: False)
    availability = podman.PodmanMode().available(mode_context("podman", {"memory_limit_mb": 512}))
    assert not availability.ok and "cannot enforce a memory limit on cgroup v1" in availability.reason
    monkeypatch.setattr(podman, "cgroup_v2", lambda: True)
    opts = podman.hardened_options(spec({"memory_limit_mb": 512}), None)
    assert ("--memory", "512m") in list(zip(opts, opts[1:])) and ("--memory-swap", "512m") in list(zip(opts, opts[1:]))
    assert "--memory" not in podman.hardened_options(spec(), None)
