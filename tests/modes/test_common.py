"""modes/common.py and the in-environment launcher it drives (run here with the host's python3:
it is stdlib only): barrier, {copy} templating, per-copy logs, timeouts, pinning, collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from execbench.modes import common
from execbench.modes.base import ModeContext, RunContext
from execbench.paths import INIMAGE

LAUNCHER = INIMAGE / "execbench_launch.py"


def launch(run_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAUNCHER), "--run-dir", str(run_dir), *args],
                          capture_output=True, text=True, timeout=60)

def launch_json(run_dir: Path, copy: int) -> dict:
    return json.loads((run_dir / f"copy{copy}" / "launch.json").read_text())

DOCKER_SETTINGS = {"kind": "docker", "network": "none", "cpuset": "none", "copies_per_container": "all",
                   "enabled": True}

def spec(settings: dict | None = None, **overrides) -> RunContext:
    """A run context of a 2-copy docker run (settings: factors over the docker defaults)."""
    mode = ModeContext(name="docker", kind="docker", settings={**DOCKER_SETTINGS, **(settings or {})})
    values = dict(mode=mode, run_id="p-docker-2c-r1", image_ref="127.0.0.1:5000/x@sha256:" + "a" * 64,
                  payload="p", copies=2, repetition=1, argv=["python3", "run.py", "--copy", "{copy}"],
                  timeout_s=30.0, out_dir=Path("/nonexistent"))
    values.update(overrides)
    return RunContext(**values)


def test_launcher_barrier_templating_and_per_copy_logs(tmp_path):
    start_at = time.time() + 1.0
    proc = launch(tmp_path, "--copies", "2", "--start-at", f"{start_at}", "--timeout", "20",
                  "--", "sh", "-c", "echo copy {copy}; echo err {copy} >&2; exit {copy}")
    assert proc.returncode == 1  # copy 1 exits 1
    for i in (0, 1):
        info = launch_json(tmp_path, i)
        assert info["exit_code"] == i and info["timed_out"] is False
        assert (tmp_path / f"copy{i}" / "stdout.log").read_text() == f"copy {i}\n"
        assert (tmp_path / f"copy{i}" / "stderr.log").read_text() == f"err {i}\n"
        # started at the barrier, not before it; lag small
        assert 0.0 <= info["start_lag_s"] < 0.5
        assert info["wall_s"] >= 0 and info["cpu_user_s"] is not None

def test_launcher_kills_a_copy_past_its_timeout(tmp_path):
    t0 = time.monotonic()
    proc = launch(tmp_path, "--copies", "1", "--timeout", "1", "--", "sleep", "30")
    assert time.monotonic() - t0 < 10
    info = launch_json(tmp_path, 0)
    assert proc.returncode == 1
    assert info["timed_out"] is True and info["exit_code"] == -9
    assert 1.0 <= info["wall_s"] < 5.0

def test_launcher_reports_a_missing_binary_as_exit_127(tmp_path):
    proc = launch(tmp_path, "--copies", "1", "--timeout", "5", "--", "/no/such/payload")
    assert proc.returncode == 1
    assert launch_json(tmp_path, 0)["exit_code"] == 127
    assert "/no/such/payload" in (tmp_path / "copy0" / "stderr.log").read_text()

def test_launcher_runs_only_the_selected_copy_and_pins_per_copy(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    proc = launch(tmp_path, "--copies", "3", "--copy", "2", "--pin", "per-copy", "--timeout", "10",
                  "--", sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "copy0").exists() and not (tmp_path / "copy1").exists()
    assert (tmp_path / "copy2" / "stdout.log").read_text().strip() == str([cpus[2 % len(cpus)]])

def test_container_groups_and_launcher_argv():
    assert common.container_groups(spec()) == [[0, 1]]
    assert common.container_groups(spec({"copies_per_container": "one"})) == [[0], [1]]
    argv = common.launcher_argv(spec(), [1], 123.5, pin=True)
    assert argv[:2] == ["python3", "/opt/execbench/execbench_launch.py"]
    assert argv[argv.index("--copy") + 1] == "1" and argv[argv.index("--pin") + 1] == "per-copy"
    assert argv[argv.index("--") + 1:] == ["python3", "run.py", "--copy", "{copy}"]

def test_launcher_scratch_gives_each_copy_its_own_scratch_dir_and_records_its_file_system(tmp_path):
    """--scratch (the VM's virtio disk): copy i gets <scratch>/copy<i> as EXECBENCH_SCRATCH, made
    for it, while its logs stay in its copy dir; the fingerprint names the scratch's file system
    (statfs, as the kernel sees it) and without --scratch the run dir's."""
    run_dir, scratch = tmp_path / "run", Path("/dev/shm") / f"execbench-test-scratch-{os.getpid()}"
    scratch.mkdir()
    try:
        proc = launch(run_dir, "--copies", "2", "--timeout", "10", "--scratch", str(scratch), "--",
                      "sh", "-c", 'echo "$EXECBENCH_SCRATCH"; touch "$EXECBENCH_SCRATCH/data"')
        assert proc.returncode == 0, proc.stderr
        for i in (0, 1):
            assert (run_dir / f"copy{i}" / "stdout.log").read_text() == f"{scratch}/copy{i}\n"
            assert (scratch / f"copy{i}" / "data").is_file()
            info = launch_json(run_dir, i)
            assert info["scratch_dir"] == f"{scratch}/copy{i}"
            seen = info["environment"]["scratch_fs"]
            assert seen["directory"] == str(scratch) and seen["statfs_type"] == "tmpfs"
            assert seen["statfs_magic"] == "0x1021994" and seen["fstype"] == "tmpfs" and seen["mount_point"] == "/dev/shm"
            assert seen["device"] == f"{os.major(scratch.stat().st_dev)}:{os.minor(scratch.stat().st_dev)}"
    finally:
        import shutil
        shutil.rmtree(scratch)
    plain = tmp_path / "plain"
    assert launch(plain, "--copies", "1", "--timeout", "10", "--", "sh", "-c", 'echo "${EXECBENCH_SCRATCH-unset}"'
                  ).returncode == 0
    assert (plain / "copy0" / "stdout.log").read_text() == "unset\n"
    assert launch_json(plain, 0)["environment"]["scratch_fs"]["directory"] == str(plain.resolve())
    argv = common.launcher_argv(spec(), [0, 1], 1.0, pin=False, scratch="/execbench/scratch")
    assert argv[argv.index("--scratch") + 1] == "/execbench/scratch" and argv.index("--scratch") < argv.index("--")


def test_collect_names_a_copy_without_launch_json(tmp_path):
    (tmp_path / "copy0").mkdir()
    (tmp_path / "copy0" / "launch.json").write_text(json.dumps(
        {"copy": 0, "exit_code": 0, "wall_s": 2.5, "cpu_user_s": 2.0, "cpu_sys_s": 0.25, "timed_out": False}))
    results = common.collect(tmp_path, 2, {0: 0, 1: 137}, killed={1})
    assert results[0].exit_code == 0 and results[0].wall_s == 2.5 and results[0].cpu_s == 2.25  # 2.0 + 0.25
    assert results[1].exit_code is None and results[1].timed_out is True
    assert "no launch.json" in results[1].detail and "137" in results[1].detail

def test_launcher_fingerprints_the_environment_each_copy_sees(tmp_path):
    """Run on the host: the fingerprint must say what /proc and /sys say here, and a pinned copy
    sees its one core."""
    cpus = sorted(os.sched_getaffinity(0))
    proc = launch(tmp_path, "--copies", "2", "--pin", "per-copy", "--timeout", "10", "--", "true")
    assert proc.returncode == 0, proc.stderr
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    for i in (0, 1):
        env = launch_json(tmp_path, i)["environment"]
        assert env["seccomp"] == int(status["Seccomp"]) and env["visible_cpus"] == [cpus[i % len(cpus)]]
        assert env["speculation_store_bypass"] == status["Speculation_Store_Bypass"].strip()
        assert env["shm_bytes"] == os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert env["rlimits"]["nofile"] == [soft, hard]
        assert env["clocksource"] == Path(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource").read_text().strip()
        assert env["clock_gettime_ns"] > 0 and env["kernel"] == os.uname().release
        assert set(env["vulnerabilities"]) == set(os.listdir("/sys/devices/system/cpu/vulnerabilities"))
    # the host side turns the flags into a level and lists what the environment hid (nothing here)
    result = common.collect(tmp_path, 2, {0: 0, 1: 0}, killed=set())[0]
    from execbench.isa import cpu_flags, isa_level
    assert result.environment["isa_level"] == isa_level(cpu_flags())
    assert result.environment["cpu_flags_not_seen"] == [] and "cpu_flags" not in result.environment
    assert result.to_dict()["environment"]["seccomp"] == int(status["Seccomp"])


def test_launcher_reads_cfs_throttling_of_its_own_cgroup(tmp_path):
    """A quota'd cgroup of our own (root, cgroup v1 cpu controller or v2): a busy copy is
    throttled and the launcher, started inside it, counts it. Not on hosts without one."""
    import pytest

    from execbench.cpulimit import QuotaCgroup, cpu_controller_dir

    if os.geteuid() != 0 or cpu_controller_dir() is None:
        pytest.skip("needs root and a writable cgroup cpu controller")
    with QuotaCgroup(f"test-{os.getpid()}", cpus=0.2, period_us=100_000) as cgroup:
        proc = subprocess.run([sys.executable, str(LAUNCHER), "--run-dir", str(tmp_path), "--copies", "1",
                               "--timeout", "20", "--", sys.executable, "-c",
                               "import time\nwhile time.process_time() < 0.5: pass"],
                              capture_output=True, text=True, timeout=60, preexec_fn=cgroup.enter)
        assert proc.returncode == 0, proc.stderr
        host_view = cgroup.stat()
    throttling = launch_json(tmp_path, 0)["cpu_throttling"]
    # 0.5 s of CPU at 0.2 CPU: ~2.5 s of wall, throttled ~2 s, in most 100 ms periods
    assert throttling["nr_throttled"] >= 5 and throttling["throttled_s"] > 1.0
    assert host_view["nr_throttled"] >= throttling["nr_throttled"]
    assert launch_json(tmp_path, 0)["environment"]["cgroup"]["cpu_quota_us"] == 20_000
