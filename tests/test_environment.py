"""environment.py: per-copy fingerprints of two modes compared with bare metal's on the same host."""

from __future__ import annotations

from execbench import environment


def _fingerprint(**over) -> dict:
    env = {"seccomp": 0, "seccomp_filters": 0, "speculation_store_bypass": "thread vulnerable",
           "cgroup": {"version": None, "cpu_quota_us": None, "cpu_period_us": None, "cpu_weight_or_shares": None,
                      "cpuset_cpus": None, "memory_limit_bytes": None, "pids_max": None},
           "shm_bytes": 2 ** 30, "rlimits": {"nofile": [1024, 4096]}, "thp": "madvise", "visible_cpus": [0, 1],
           "cpu_count": 2, "clocksource": "tsc", "clock_gettime_ns": 40.0, "vsyscall": "--xp",
           "isa_level": "x86-64-v4", "cpu_flags_not_seen": []}
    for key, value in over.items():
        if key == "cgroup":
            env["cgroup"] = {**env["cgroup"], **value}
        else:
            env[key] = value
    return env


def _run(mode: str, envs: list[dict], throttling=None, status="ok") -> dict:
    return {"run_id": f"p/{mode}", "mode": mode, "status": status, "host": {"hostname": "h1"},
            "copies_result": [{"copy": i, "environment": e, "cpu_throttling": throttling} for i, e in enumerate(envs)]}


def test_a_container_without_limits_differs_from_bare_only_where_it_really_does():
    bare = _run("bare", [_fingerprint(), _fingerprint(clock_gettime_ns=44.0)])
    # docker's defaults spelled as its cgroup shows them: no quota (-1), 1024 shares, every CPU
    docker = _run("docker", [_fingerprint(seccomp=2, seccomp_filters=1, shm_bytes=64 * 2 ** 20,
                                          cgroup={"version": 1, "cpu_quota_us": -1, "cpu_period_us": 100000,
                                                  "cpu_weight_or_shares": 1024, "cpuset_cpus": "0-1"},
                                          clock_gettime_ns=60.0)],
                  throttling={"nr_periods": 0, "nr_throttled": 0, "throttled_s": 0.0})
    rows = environment.copy_fingerprints(bare) + environment.copy_fingerprints(docker)
    table = environment.environment_table(rows)
    diffs = environment.differences(table)
    keys = sorted(d.split(" ", 1)[0] for d in diffs[("h1", "docker")])
    assert keys == ["seccomp", "seccomp_filters", "shm_bytes"]  # not the no-limit cgroup values, not 60 vs 42 ns
    assert "shm_bytes 67108864 (bare: 1073741824)" in diffs[("h1", "docker")]
    assert ("h1", "bare") not in diffs
    assert set(table.columns) == set(environment.COLUMNS)


def test_a_quota_a_slow_clock_and_throttling_are_differences():
    bare = _run("bare", [_fingerprint()])
    quota = _run("bare-quota", [_fingerprint(cgroup={"version": 1, "cpu_quota_us": 50000, "cpu_period_us": 100000},
                                             clock_gettime_ns=400.0, clocksource="hpet", visible_cpus=[1])],
                 throttling={"nr_periods": 30, "nr_throttled": 12, "throttled_s": 0.8})
    table = environment.environment_table(environment.copy_fingerprints(bare) + environment.copy_fingerprints(quota))
    diff = {r.key: (r.value, r.bare_value) for r in table[table["differs"]].itertuples()}
    assert diff["cgroup.cpu_quota_us"] == ("50000", "none")
    assert diff["clock_gettime_ns"] == ("400", "40") and diff["clocksource"] == ("hpet", "tsc")
    assert diff["cpu_throttling.nr_throttled"] == ("12", "none")
    assert diff["visible_cpus"] == ("1", "all")


def test_failed_runs_and_hosts_without_bare_metal_give_no_difference():
    assert environment.copy_fingerprints(_run("docker", [_fingerprint(seccomp=2)], status="failed")) == []
    table = environment.environment_table(environment.copy_fingerprints(_run("docker", [_fingerprint(seccomp=2)])))
    assert not table["differs"].any() and set(table["bare_value"]) == {""}
    assert environment.environment_markdown(table) == "No differences from bare metal seen.\n"


def test_a_vm_copy_on_a_9p_share_differs_from_bare_in_the_file_system_it_measured_and_not_in_its_path():
    def fs(statfs_type, fstype, directory):
        return {"directory": directory, "fstype": fstype, "source": "run", "mount_point": directory,
                "options": "rw", "statfs_magic": "0x1", "statfs_type": statfs_type, "device": "0:42"}

    bare = _run("bare", [_fingerprint(scratch_fs=fs("overlayfs", "overlay", "/execbench/run"))])
    docker = _run("docker", [_fingerprint(scratch_fs=fs("overlayfs", "overlay", "/somewhere/else"))])
    # over 9P2000.L the guest's statfs says the host's file system: only the mount type tells 9p
    vm_9p = _run("vm", [_fingerprint(scratch_fs=fs("overlayfs", "9p", "/execbench/run"))])
    vm_disk = _run("vm-disk", [_fingerprint(scratch_fs=fs("ext2/ext3/ext4", "ext4", "/execbench/scratch"))])
    rows = sum((environment.copy_fingerprints(r) for r in (bare, docker, vm_9p, vm_disk)), [])
    diffs = environment.differences(environment.environment_table(rows))
    assert diffs[("h1", "vm")] == ["scratch_fs.fstype 9p (bare: overlay)"]
    assert diffs[("h1", "vm-disk")] == ["scratch_fs.fstype ext4 (bare: overlay)"]
    assert ("h1", "docker") not in diffs  # another path on the same kind of file system is no difference
