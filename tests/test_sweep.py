"""The sweep of a results dir's leftovers (execbench.sweep, issue 13, R13): real runs killed with
SIGKILL of their whole process group, then `python -m execbench sweep`, as the workflow's onstart
calls it; another results dir's container and a live run's environment are left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import CACHE, make_config, rootfs_mounts, run_context
from test_runner import _write_run_stage_workflow

from execbench.layout import instance_tag
from execbench.modes import docker as docker_mode
from execbench.paths import REPO_ROOT
from execbench.runner import LOCK_ENV

TESTS = Path(__file__).parent
DRIVER = """
import json, sys
sys.path.insert(0, {tests!r})
from helpers import ArgvPayload
from execbench.config import RunCell
from execbench.runner import run_cell
config = json.loads(open({config!r}).read())
run_cell(config, RunCell("argv", sys.argv[1], 1, 1), payload=ArgvPayload(json.loads(sys.argv[2])))
"""

pytestmark = [pytest.mark.docker, pytest.mark.skipif(os.geteuid() != 0, reason="bare runs and mounts need root")]


@pytest.fixture
def lock_env(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "benchmark.lock"))
    return {**os.environ, LOCK_ENV: str(tmp_path / "benchmark.lock")}


def start_run(shared_dir: Path, name: str, image: dict, mode: str, argv: list[str], env: dict):
    """A harness process (own process group) running one argv run; returns (process, results, run dir)."""
    results = shared_dir / name / "results"
    config = make_config(results, image)
    config["payloads"] = {"argv": {}}
    (shared_dir / name / "config.json").write_text(json.dumps(config))
    driver = shared_dir / name / "driver.py"
    driver.write_text(DRIVER.format(tests=str(TESTS), config=str(shared_dir / name / "config.json")))
    proc = subprocess.Popen([sys.executable, str(driver), mode, json.dumps(argv)], cwd=REPO_ROOT, env=env,
                            start_new_session=True)
    run_dir = results / f"raw/argv/{mode}/1c/r1"
    marker = run_dir / "copy0/stdout.log"
    deadline = time.time() + 90
    while not (marker.exists() and marker.read_text()):
        assert time.time() < deadline and proc.poll() is None, "the payload never started"
        time.sleep(0.2)
    return proc, results, run_dir


def sweep(results: Path, env: dict) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "execbench", "sweep", "--results", str(results), "--cache",
                           str(CACHE), "--podman-user", "execbench"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_r13_a_killed_docker_runs_exited_container_is_swept_and_another_checkouts_is_not(
        modes_image, shared_dir, lock_env):
    import docker

    client = docker.from_env()
    harness, results, _ = start_run(shared_dir, "sweep-docker", modes_image, "docker",
                                    ["sh", "-c", "echo started; sleep 2"], lock_env)
    os.killpg(harness.pid, signal.SIGKILL)  # R13: kill -9 -<pgid> during a docker run
    harness.wait()
    mine = {"label": f"execbench.results={instance_tag(results)}"}
    deadline = time.time() + 60
    while [c.status for c in client.containers.list(all=True, filters=mine)] != ["exited"]:
        assert time.time() < deadline, "the container did not finish by itself"
        time.sleep(0.5)
    # a container of the same run id in another checkout's results dir
    other = run_context(modes_image, "docker", ["true"], shared_dir / "sweep-other" / "raw/argv/docker/1c/r1")
    theirs = client.containers.create(modes_image["reference"], ["true"], name=docker_mode.environment_name(other, 0),
                                      labels=docker_mode.labels(other))
    try:
        said = sweep(results, lock_env)
        name = f"execbench-{instance_tag(results)}-argv-docker-1c-r1-0"
        assert f"execbench sweep: removed docker container {name} (exited, run argv-docker-1c-r1)" in said, said
        assert client.containers.list(all=True, filters=mine) == []
        theirs.reload()  # untouched
        assert sweep(results, lock_env) == [f"execbench sweep: nothing left over on this host for {results}"]
    finally:
        theirs.remove(force=True)


def test_r13_a_killed_bare_runs_mounts_are_swept(modes_image, shared_dir, lock_env):
    harness, results, _ = start_run(shared_dir, "sweep-bare", modes_image, "bare",
                                    ["sh", "-c", "echo started; sleep 300"], lock_env)
    os.killpg(harness.pid, signal.SIGKILL)
    harness.wait()
    left = rootfs_mounts(modes_image)
    # R13: the run's mounts below the rootfs stay (run tmp proc sys, 4 devices, shm, passwd, group)
    assert len(left) == 11
    said = sweep(results, lock_env)
    assert any(line.startswith(f"execbench sweep: removed {len(left) + 1} bare mount(s) under ") for line in said), said
    assert rootfs_mounts(modes_image) == []


def test_a_live_runs_container_is_left_alone(modes_image, shared_dir, lock_env):
    import docker

    harness, results, run_dir = start_run(shared_dir, "sweep-live", modes_image, "docker",
                                          ["sh", "-c", "echo started; sleep 8"], lock_env)
    try:
        said = sweep(results, lock_env)
        assert "execbench sweep: run argv-docker-1c-r1 is live (holds the benchmark slot): its environment " \
               "is left alone" in said
        assert not [line for line in said if "removed" in line]
        assert harness.wait(timeout=120) == 0
    finally:
        if harness.poll() is None:
            os.killpg(harness.pid, signal.SIGKILL)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"
    assert docker.from_env().containers.list(all=True, filters={"label": f"execbench.results={instance_tag(results)}"}) == []


def test_the_workflow_sweeps_when_it_starts_running_jobs(modes_image, shared_dir, lock_env):
    """run.smk's onstart: a leftover container of this results dir goes, and Snakemake's output says so."""
    import docker

    work = shared_dir / "sweep-onstart"
    results = work / "results"
    config = make_config(results, modes_image)
    config["payloads"] = {"startup": {"samples": 1}}
    config["study"]["repetitions"] = 1
    _write_run_stage_workflow(work, config)
    leftover_ctx = run_context(modes_image, "docker", ["true"], results / "raw/startup/docker/1c/r9")
    leftover = docker.from_env().containers.create(modes_image["reference"], ["true"],
                                                   name=docker_mode.environment_name(leftover_ctx, 0),
                                                   labels=docker_mode.labels(leftover_ctx))
    snakemake = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", "config.yaml"]
    dry = subprocess.run([*snakemake, "-n"], cwd=work, capture_output=True, text=True, env=lock_env)
    assert "execbench sweep" not in dry.stdout + dry.stderr  # a dry run changes nothing
    proc = subprocess.run(snakemake, cwd=work, capture_output=True, text=True, timeout=600, env=lock_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"execbench sweep: removed docker container {leftover.name} (created, run {leftover_ctx.run_id})" \
        in proc.stdout + proc.stderr
    with pytest.raises(docker.errors.NotFound):
        leftover.reload()


def test_a_leftover_guest_of_this_results_dir_is_killed_and_anothers_is_not(shared_dir, vm_cache, lock_env):
    from execbench.modes import vm, vmimage

    kern = vmimage.kernel(vm_cache)
    initrd, _ = vmimage.initramfs(vm_cache, kern)
    user = vm.qemu_user({"qemu_user": vm.DEFAULT_QEMU_USER})
    results, other = shared_dir / "sweep-vm" / "results", shared_dir / "sweep-vm-other" / "results"
    guests = []
    for root in (results, other):
        root.mkdir(parents=True)
        vm.give_to(root, user)
        argv = vm.qemu_argv(name=f"execbench-{instance_tag(root)}-argv-vm-1c-r1", kernel=kern.vmlinuz,
                            initrd=str(initrd), cmdline="console=ttyS0", accel="tcg", cpu_model="host", vcpus=1,
                            memory_mb=256, console=root / "console.log") + ["-S"]  # paused: a guest left over
        guests.append(subprocess.Popen(argv, preexec_fn=vm.as_qemu_user(user)))
    try:
        deadline = time.time() + 30
        while not all(vm.guest_pids(f"execbench-{instance_tag(r)}-argv-vm-1c-r1") for r in (results, other)):
            assert time.time() < deadline
            time.sleep(0.1)
        said = sweep(results, lock_env)
        assert f"execbench sweep: killed qemu guest execbench-{instance_tag(results)}-argv-vm-1c-r1 " \
               f"(pid {guests[0].pid})" in said, said
        assert guests[0].wait(timeout=30) == -signal.SIGKILL
        assert guests[1].poll() is None  # another results dir's guest runs on
    finally:
        for guest in guests:
            if guest.poll() is None:
                guest.kill()
                guest.wait()


def test_a_killed_vm_runs_scratch_disk_is_removed_and_a_live_runs_and_anothers_are_not(tmp_path):
    """A VM run removes its scratch disk when it ends; one killed hard leaves it, named like its guest."""
    from execbench import sweep as sweep_module
    from execbench.modes import vmimage

    results, other = tmp_path / "results", tmp_path / "other"
    tag, other_tag = instance_tag(results), instance_tag(other)
    base = vmimage.scratch_dir(tmp_path / "cache")
    left = base / f"execbench-{tag}-fio-vm-1c-r1.img"
    live = base / f"execbench-{tag}-fio-vm-1c-r2_h1.img"  # run fio/vm/1c/r2@h1, spelt as its guest's name
    another = base / f"execbench-{other_tag}-fio-vm-1c-r1.img"
    for disk in (left, live, another):
        disk.write_bytes(b"")
    said = sweep_module._scratch_disks(tmp_path / "cache", tag, live="fio-vm-1c-r2@h1")
    assert said == [f"removed VM scratch disk {left}"]
    assert not left.exists() and live.exists() and another.exists()
