"""The runner: one matrix cell -> raw dir + run.json; failure, unavailability, the global
lock, kill-and-rerun, and the interleaved order through Snakemake with run.smk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jsonschema
import pytest
from helpers import (
    ArgvPayload,
    make_config,
    mode_context,
    podman_or_skip,
    rootfs_mounts,
    world_writable,
)

from execbench.config import RunCell
from execbench.modes.docker import RUN_LABEL, DockerMode
from execbench.paths import REPO_ROOT
from execbench.runner import (
    LOCK_ENV,
    benchmark_slot,
    pairing,
    run_cell,
    validate_run,
)

TESTS = Path(__file__).parent
FAKE_IMAGE = {"name": "fake", "reference": "127.0.0.1:5000/none@sha256:" + "0" * 64, "digest": "sha256:" + "0" * 64}


# The payload's sleep, spelled for this test session only: the process checks look for it among
# every process of the host, where other checkouts' tests may run the same test at the same time.
SLEEP_S = f"61.{os.getpid() % 100000:05d}"


@pytest.fixture(autouse=True)
def own_benchmark_lock(tmp_path, monkeypatch):
    """Each test its own lock file (as when the lock lived in the test's results dir): a test
    here never waits for, nor holds up, a real benchmark on this host."""
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "benchmark.lock"))


def cell(payload: str, mode: str, rep: int = 1, order: int = 0) -> RunCell:
    return RunCell(payload=payload, mode=mode, copies=1, repetition=rep, order_index=order)


def test_unavailable_mode_is_recorded_with_its_reason(tmp_path):
    config = make_config(tmp_path / "results", FAKE_IMAGE, modes={
        "podman": {"kind": "podman", "user": "no-such-user-here", "network": "none", "cpuset": "none",
                   "copies_per_container": "all", "enabled": True}})
    run = run_cell(config, RunCell("startup", "podman", 1, 1))
    assert run["status"] == "unavailable"
    assert "no-such-user-here" in run["reason"] and "does not exist" in run["reason"]
    written = json.loads((tmp_path / "results/raw/startup/podman/1c/r1/run.json").read_text())
    assert written == run and written["copies_result"] == []


def test_missing_image_record_fails_the_run_naming_the_file(tmp_path):
    config = make_config(tmp_path / "results", FAKE_IMAGE)
    (tmp_path / "results/images/fake.json").unlink()
    run = run_cell(config, RunCell("startup", "bare", 1, 1))
    assert run["status"] == "failed" and "images/fake.json" in run["reason"]


def test_half_written_run_dir_is_moved_aside_not_deleted(tmp_path):
    config = make_config(tmp_path / "results", FAKE_IMAGE, modes={
        "podman": {"kind": "podman", "user": "no-such-user-here", "enabled": True}})
    run_dir = tmp_path / "results/raw/startup/podman/1c/r1"
    (run_dir / "copy0").mkdir(parents=True)
    (run_dir / "copy0/stdout.log").write_text("half a log\n")
    run = run_cell(config, RunCell("startup", "podman", 1, 1))
    moved = Path(run["previous_attempt"])
    assert moved.parent == tmp_path / "results/raw/.incomplete" and moved.name.startswith("startup-podman-1c-r1-")
    assert (moved / "copy0/stdout.log").read_text() == "half a log\n"
    assert not (run_dir / "copy0").exists() and (run_dir / "run.json").exists()


def test_empty_run_dir_made_by_snakemake_is_no_previous_attempt(tmp_path):
    # Snakemake creates run.json's directory before the job: a fresh run must not move that
    # empty directory to .incomplete/ nor record it as a previous attempt.
    config = make_config(tmp_path / "results", FAKE_IMAGE, modes={
        "podman": {"kind": "podman", "user": "no-such-user-here", "enabled": True}})
    (tmp_path / "results/raw/startup/podman/1c/r1").mkdir(parents=True)
    run = run_cell(config, RunCell("startup", "podman", 1, 1))
    assert run["previous_attempt"] is None
    assert not (tmp_path / "results/raw/.incomplete").exists()
    assert (tmp_path / "results/raw/startup/podman/1c/r1/run.json").exists()


def test_benchmark_slot_excludes_other_processes(tmp_path):
    lock = tmp_path / "benchmark.lock"  # own_benchmark_lock
    try_lock = textwrap.dedent(f"""
        import fcntl, sys
        with open({str(lock)!r}, "a") as fh:
            try:
                fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                sys.exit(7)
    """)
    with benchmark_slot():
        assert subprocess.run([sys.executable, "-c", try_lock]).returncode == 7
    assert subprocess.run([sys.executable, "-c", try_lock]).returncode == 0


def test_pairing_is_broken_only_when_the_run_left_its_cluster_host():
    no_batch = {"system": None, "job_id": None, "node": None}
    assert pairing(None, {"hostname": "wn001"}, no_batch) is None  # no fan-out
    assert pairing("wn001", {"hostname": "wn001"}, no_batch) == "ok"
    assert pairing("wn001", {"hostname": "wn001.example.org"}, no_batch) == "ok"  # short name counts
    slurm_node = {"system": "slurm", "job_id": "1", "node": "wn001"}
    assert pairing("wn001", {"hostname": "ip-10-0-0-7"}, slurm_node) == "ok"  # SLURM's node name counts
    assert pairing("wn001", {"hostname": "wn002"}, {**slurm_node, "node": "wn002"}) == "broken"
    condor = {"system": "htcondor", "job_id": "1.0", "node": "slot1@wn003.example.org"}
    assert pairing("wn003", {"hostname": "x"}, condor) == "ok"


def test_run_json_records_batch_context_and_broken_pairing(tmp_path, monkeypatch):
    # an unavailable mode: run.json is written (and schema-checked) without running any payload
    monkeypatch.setenv("SLURM_JOB_ID", "99")
    monkeypatch.setenv("SLURMD_NODENAME", "elsewhere")
    monkeypatch.setattr("execbench.runner.host_info", lambda: {
        "hostname": "elsewhere", "cpu_model": "cpu", "logical_cores": 2, "kernel": "Linux", "os": "Debian"})
    config = make_config(tmp_path / "results", FAKE_IMAGE, modes={
        "podman": {"kind": "podman", "user": "no-such-user-here", "enabled": True}})
    config["cluster"] = {"hosts": ["wn001"]}
    run = run_cell(config, RunCell("startup", "podman", 1, 1, host="wn001"))
    written = json.loads((tmp_path / "results/raw/startup/podman/1c/r1@wn001/run.json").read_text())
    assert written == run
    assert run["run_id"] == "startup-podman-1c-r1@wn001"
    assert run["batch"] == {"system": "slurm", "job_id": "99", "node": "elsewhere"}
    assert run["cluster_host"] == "wn001" and run["pairing"] == "broken"


DRIVER = """
import json, sys
sys.path.insert(0, {tests!r})
from helpers import ArgvPayload
from execbench.config import RunCell
from execbench.runner import run_cell
config = json.loads(open({config!r}).read())
payload = ArgvPayload(json.loads(sys.argv[2]))
run_cell(config, RunCell("argv", sys.argv[1], 1, int(sys.argv[3])), payload=payload)
"""


ENGINE_MODES = {"docker": {"kind": "docker"}, "podman": {"kind": "podman", "user": "execbench"}}
KILL_MODES = ["bare", "docker", pytest.param("podman", marks=pytest.mark.podman)]


def mode_config(results: Path, image: dict, mode: str, **kwargs) -> dict:
    """make_config with `mode` among its modes (bare, the baseline, always is)."""
    if mode == "podman":
        podman_or_skip()
    return make_config(results, image, modes={mode: ENGINE_MODES[mode]} if mode in ENGINE_MODES else None, **kwargs)


def containers_left(mode: str, run_id: str, results: Path) -> list[str]:
    """Containers (any state) of this run into this results dir, in the mode's engine."""
    import docker

    wanted = [f"{RUN_LABEL}={run_id}", f"execbench.results_dir={results}"]
    if mode == "docker":
        return [c.name for c in docker.from_env().containers.list(all=True, filters={"label": wanted})]
    if mode == "podman":
        filters = [arg for label in wanted for arg in ("--filter", f"label={label}")]
        return podman_or_skip().podman(mode_context("podman").settings, "ps", "-aq", *filters).stdout.split()
    return []


def tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.docker
@pytest.mark.parametrize("mode", KILL_MODES)
def test_kill_mid_run_and_rerun_loses_nothing(modes_image, shared_dir, mode):
    results = shared_dir / f"kill-{mode}"
    config = mode_config(results, modes_image, mode)
    config["payloads"] = {"argv": {}}
    config_file = shared_dir / f"kill-{mode}.json"
    config_file.write_text(json.dumps(config))
    driver = shared_dir / "driver.py"
    driver.write_text(DRIVER.format(tests=str(TESTS), config=str(config_file)))

    def runner(rep: int, argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(driver), mode, json.dumps(argv), str(rep)], cwd=REPO_ROOT)

    # r1 finishes; r2 is killed (SIGKILL, no clean-up at all) while its payload runs
    assert runner(1, ["sh", "-c", "echo done r1"]).wait(timeout=120) == 0
    finished = results / f"raw/argv/{mode}/1c/r1"
    before = tree(finished)
    killed = runner(2, ["sh", "-c", f"echo started; sleep {SLEEP_S}"])
    marker = results / f"raw/argv/{mode}/1c/r2/copy0/stdout.log"
    deadline = time.time() + 90
    while not (marker.exists() and marker.read_text()):
        assert time.time() < deadline and killed.poll() is None, "r2 never started its payload"
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (results / f"raw/argv/{mode}/1c/r2/run.json").exists()

    # the rerun (what Snakemake's rerun-incomplete does) redoes r2 only
    assert runner(2, ["sh", "-c", "echo done r2"]).wait(timeout=120) == 0
    assert tree(finished) == before  # finished run untouched
    rerun = json.loads((results / f"raw/argv/{mode}/1c/r2/run.json").read_text())
    assert rerun["status"] == "ok"
    assert (results / f"raw/argv/{mode}/1c/r2/copy0/stdout.log").read_text() == "done r2\n"
    aside = Path(rerun["previous_attempt"])
    assert (aside / "copy0/stdout.log").read_text() == "started\n"  # the killed attempt's log is kept
    assert containers_left(mode, rerun["run_id"], results) == []  # the killed attempt's container is gone
    if mode == "bare":  # the killed attempt's mounts and processes (the orphaned `sleep`) are gone
        assert rootfs_mounts(modes_image) == []
        assert processes_with_cmdline(["sleep", SLEEP_S]) == []


def processes_with_cmdline(cmdline: list[str]) -> list[int]:
    """Host pids running exactly this argv (a payload's process outside any cleanup would show
    here; after a lazy unmount /proc/<pid>/root no longer names the rootfs, argv still does)."""
    wanted = "\0".join(cmdline).encode() + b"\0"
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.mark.docker
@pytest.mark.parametrize("mode", KILL_MODES)
def test_terminated_runner_cleans_up_before_it_exits(modes_image, shared_dir, mode):
    """SIGTERM (Snakemake stopping a job): no run.json, and no process, mount or container left,
    not even a payload's grandchild (`sleep` under `sh`), which PDEATHSIG alone does not reach."""
    results = shared_dir / f"term-{mode}"
    config = mode_config(results, modes_image, mode)
    config_file = shared_dir / f"term-{mode}.json"
    config_file.write_text(json.dumps(config))
    driver = shared_dir / "term-driver.py"
    driver.write_text(DRIVER.format(tests=str(TESTS), config=str(config_file)))
    proc = subprocess.Popen([sys.executable, str(driver), mode, json.dumps(["sh", "-c", f"echo started; sleep {SLEEP_S}"]),
                             "1"], cwd=REPO_ROOT, stderr=subprocess.PIPE)
    marker = results / f"raw/argv/{mode}/1c/r1/copy0/stdout.log"
    deadline = time.time() + 90
    while not (marker.exists() and marker.read_text()):
        assert time.time() < deadline and proc.poll() is None, "the payload never started"
        time.sleep(0.2)
    time.sleep(1.5)  # sh has forked its `sleep` by now
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    assert not (results / f"raw/argv/{mode}/1c/r1/run.json").exists()
    assert rootfs_mounts(modes_image) == []
    assert processes_with_cmdline(["sleep", SLEEP_S]) == []
    assert containers_left(mode, f"argv-{mode}-1c-r1", results) == []


def _write_run_stage_workflow(work: Path, config: dict) -> None:
    """A Snakefile holding only the real common + run rules, and its config, in `work`."""
    for settings in config["modes"].values():
        settings.pop("enabled", None)
    config.pop("from_raw"), config.pop("ingest")
    (work / "config.yaml").write_text(json.dumps(config))
    (work / "Snakefile").write_text(textwrap.dedent(f"""
        include: "{REPO_ROOT}/workflow/rules/common.smk"
        include: "{REPO_ROOT}/workflow/rules/run.smk"

        rule all:
            default_target: True
            input: [chain_record(chain) for chain in CHAINS]
    """))


@pytest.mark.docker
def test_snakemake_chain_job_runs_in_the_recorded_interleaved_order(modes_image, shared_dir):
    work = shared_dir / "snakemake"
    results = work / "results"
    config = make_config(results, modes_image)
    config["payloads"] = {"startup": {"samples": 1}}
    _write_run_stage_workflow(work, config)
    snakemake = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run([str(snakemake), "--cores", "2", "--configfile", "config.yaml"], cwd=work,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in results.glob("raw/*/*/*/*/run.json")]
    assert len(runs) == 4 and all(r["status"] == "ok" for r in runs)  # 2 modes x 2 repetitions
    by_start = [r["order_index"] for r in sorted(runs, key=lambda r: r["started_utc"])]
    assert by_start == [0, 1, 2, 3]
    ordered = sorted(runs, key=lambda r: r["order_index"])
    for earlier, later in zip(ordered, ordered[1:]):
        assert earlier["ended_utc"] <= later["started_utc"]  # one at a time
    assert [r["repetition"] for r in ordered] == [1, 1, 2, 2]  # every mode's r1 before any r2
    # the modes' order is reversed in the second round (a linear drift cancels over two rounds)
    assert [r["mode"] for r in ordered[:2]] == [r["mode"] for r in ordered[2:]][::-1]
    chain = json.loads((results / "raw" / ".chains" / "local.json").read_text())
    assert sorted(chain["runs"]) == sorted(r["run_id"] for r in runs) and chain["failed_runs"] == 0
    assert world_writable(results) == []  # nothing a run made as root is open to every local user
    # the startup payload's own log parses into per-copy and machine-level latencies
    from execbench.payloads.startup import Startup

    for mode in ("bare", "docker"):
        records = Startup().parse(results / f"raw/startup/{mode}/1c/r1")
        assert [(r.copy, r.status) for r in records] == [(0, "ok"), (None, "ok")]
        assert 0 < records[1].value < 30


@pytest.mark.docker
def test_killed_workflow_reruns_only_the_incomplete_runs(modes_image, shared_dir):
    """SIGKILL the whole Snakemake process group mid-chain, run again with --rerun-incomplete: the
    chain job resumes; finished runs are kept byte for byte (never measured again), the
    interrupted one is redone, its half is set aside."""
    work = shared_dir / "snakemake-kill"
    results = work / "results"
    config = make_config(results, modes_image)
    config["payloads"] = {"startup": {"samples": 3}}
    _write_run_stage_workflow(work, config)
    snakemake = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", "config.yaml"]
    first = subprocess.Popen(snakemake, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 300
    while True:
        dirs = list(results.glob("raw/startup/*/1c/r*"))
        done = [d for d in dirs if (d / "run.json").exists()]
        if done and len(dirs) > len(done):  # the runner makes a run's dir first, run.json last
            break
        assert first.poll() is None and time.time() < deadline, "no moment with a finished and a running run"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finished = {d: tree(d) for d in done}
    # the startup payload writes its logs at the end: whether the killed run left anything is
    # seen only now
    interrupted = {d: any(d.iterdir()) for d in dirs if d not in done}

    # a hard kill leaves Snakemake's own directory lock: the operator unlocks once, then reruns
    subprocess.run([*snakemake, "--unlock"], cwd=work, capture_output=True, check=True)
    second = subprocess.run([*snakemake, "--rerun-incomplete"], cwd=work, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    for run_dir, files in finished.items():
        assert tree(run_dir) == files  # finished raw logs untouched
    runs = [json.loads(p.read_text()) for p in results.glob("raw/startup/*/1c/r*/run.json")]
    assert len(runs) == 4 and all(r["status"] == "ok" for r in runs)
    for run_dir, left_something in interrupted.items():
        redone = json.loads((run_dir / "run.json").read_text())
        if left_something:  # its half is set aside, never deleted
            assert redone["previous_attempt"] and Path(redone["previous_attempt"]).is_dir()
        else:  # an empty dir is no attempt: nothing to keep
            assert redone["previous_attempt"] is None
    incomplete = results / "raw" / ".incomplete"
    assert not [p for p in incomplete.glob("*") if not any(p.iterdir())], "an empty dir was set aside"
    again = subprocess.run([*snakemake, "-n"], cwd=work, capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr


def _descendants(pid: int) -> list[tuple[int, bytes]]:
    """(pid, cmdline) of every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                out.append((child, (Path("/proc") / str(child) / "cmdline").read_bytes()))
            except OSError:
                continue
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.docker
@pytest.mark.parametrize("mode", KILL_MODES)
def test_r5_kill_of_snakemake_alone_stops_its_job_and_the_rerun_loses_nothing(modes_image, shared_dir, mode):
    """R5: kill -9 of the Snakemake process only (its job's shell and runner survive it). Today's
    main let the orphaned runner measure on and write a run.json that the rerun then deleted as an
    incomplete output; now the runner stops as on SIGTERM (no run.json, nothing of the run left
    running), and --unlock plus a rerun redoes that run once, every cell ending with one ok run."""
    from execbench.chain import round_steps

    work = shared_dir / f"r5-{mode}"
    results = work / "results"
    config = mode_config(results, modes_image, mode, payloads={"startup": {"samples": 5000}})
    config["study"]["repetitions"] = 1
    config["study"]["adaptive"] = {**config["study"].get("adaptive", {}), "max_repetitions": 1}
    if mode != "bare":  # bare metal goes to the middle of a round: a twin makes this kind come first
        config["modes"][f"{mode}2"] = dict(config["modes"][mode])
    # a seed whose chain starts with a run of this kind (the one killed)
    config["study"]["seed"] = next(seed for seed in range(100) if round_steps(
        {**config, "study": {**config["study"], "seed": seed}}, 1, None)[0].cell.mode.startswith(mode))
    first_cell = round_steps(config, 1, None)[0].cell
    _write_run_stage_workflow(work, config)
    snakemake = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", "config.yaml"]
    workflow = subprocess.Popen(snakemake, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    run_dir = results / "raw" / "startup" / first_cell.mode / "1c" / "r1"
    runner = []
    while not (runner and run_dir.is_dir()):
        runner = [pid for pid, cmd in _descendants(workflow.pid) if b"\0execbench\0chain\0" in cmd]
        assert workflow.poll() is None and time.time() < deadline, "the chain never started the first run"
        time.sleep(0.1)
    [runner_pid] = runner
    time.sleep(5)  # inside the run: the payload's samples are being taken
    assert _alive(runner_pid)
    workflow.send_signal(signal.SIGKILL)  # Snakemake alone, not its process group
    workflow.wait()
    deadline = time.time() + 120
    try:
        while _alive(runner_pid):  # a liveness bound, not a timing measurement
            assert time.time() < deadline, "the orphaned runner is still measuring"
            time.sleep(0.2)
    finally:  # a failing test leaves no orphan of its own behind
        if _alive(runner_pid):
            os.kill(runner_pid, signal.SIGTERM)
    assert not (run_dir / "run.json").exists()  # stopped, not finished
    assert processes_with_cmdline(["sleep", SLEEP_S]) == []
    assert containers_left(mode, first_cell.run_id, results) == []
    assert rootfs_mounts(modes_image) == []

    # the operator unlocks and reruns (fewer samples: the config reaches runs, not a rerun trigger)
    config["payloads"]["startup"]["samples"] = 2
    (work / "config.yaml").write_text(json.dumps({**json.loads((work / "config.yaml").read_text()),
                                                  "payloads": {"startup": {"samples": 2}}}))
    subprocess.run([*snakemake, "--unlock"], cwd=work, capture_output=True, check=True)
    second = subprocess.run([*snakemake, "--rerun-incomplete"], cwd=work, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    runs = {p.parent.relative_to(results / "raw"): json.loads(p.read_text())
            for p in results.glob("raw/startup/*/1c/r*/run.json")}
    assert sorted(str(k) for k in runs) == sorted(f"startup/{m}/1c/r1" for m in config["modes"])
    assert all(r["status"] == "ok" for r in runs.values())
    redone = runs[run_dir.relative_to(results / "raw")]
    if redone["previous_attempt"]:  # the killed attempt's part is kept aside, never counted
        assert Path(redone["previous_attempt"]).parent == results / "raw" / ".incomplete"


def minimal_run(**overrides) -> dict:
    run = {"schema_version": 1, "run_id": "x", "payload": "p", "mode": "bare", "mode_kind": "bare",
           "mode_settings": {}, "copies": 1, "repetition": 1, "order_index": 0, "seed": 1, "status": "ok",
           "reason": "", "emulated": False,
           "host": {"hostname": "h", "cpu_model": "c", "logical_cores": 2, "kernel": "k", "os": "o"},
           "versions": {}, "image": {"name": "i", "reference": None, "digest": None},
           "started_utc": "2026-01-01T00:00:00.000001+00:00", "ended_utc": "2026-01-01T00:00:01+00:00",
           "wall_s": 1.0, "copies_result": [{"copy": 0, "exit_code": 0, "wall_s": 1.0, "timed_out": False,
                                              "cpu_s": None}],
           "config_sha256": "0" * 64}
    run.update(overrides)
    return run

def test_run_schema_rejects_failed_without_reason_and_unknown_status():
    validate_run(minimal_run())
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(status="failed", reason=""))
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(status="skipped", reason="why"))
    with pytest.raises(jsonschema.ValidationError):
        validate_run(minimal_run(copies_result=[]))  # ok with no copy is not ok


@pytest.mark.docker
def test_failing_payload_yields_failed_run_with_logs(modes_image, shared_dir):
    config = make_config(shared_dir / "fail-results", modes_image)
    config["payloads"] = {"argv": {}}
    payload = ArgvPayload(["sh", "-c", "echo partial result; echo broken input >&2; exit 3"])
    run = run_cell(config, cell("argv", "bare"), payload=payload)
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
    run = run_cell(config, cell("argv", engine), payload=ArgvPayload(["sleep", "60"], timeout_s=2))
    assert run["status"] == "failed" and "timed out" in run["reason"]
    assert run["copies_result"][0]["timed_out"] is True
    assert 2.0 <= run["copies_result"][0]["wall_s"] < 10
    if engine == "docker":
        left = docker.from_env().containers.list(all=True, filters={"label": f"{RUN_LABEL}={run['run_id']}"})
    else:
        left = mode.podman(mode_context("podman").settings, "ps", "-aq", "--filter", f"label={RUN_LABEL}={run['run_id']}").stdout.split()
    assert left == []


@pytest.mark.docker
def test_copies_times_threads_beyond_the_usable_cores_is_unavailable(modes_image, shared_dir):
    """A multi-threaded copy never oversubscribes the host: such a cell is unavailable, saying
    why; one that fits runs and records the threads it asked for."""
    class Threaded(ArgvPayload):
        def __init__(self, threads):
            super().__init__(["true"])
            self.threads = threads

        def threads_per_copy(self, settings):
            return self.threads

    usable = len(os.sched_getaffinity(0))
    config = make_config(shared_dir / "threads-results", modes_image)
    config["payloads"] = {"argv": {}}
    run = run_cell(config, cell("argv", "bare"), payload=Threaded(usable + 1))
    assert run["status"] == "unavailable" and f"x {usable + 1} threads > {usable} usable cores" in run["reason"]
    assert run["threads_per_copy"] == usable + 1
    run = run_cell(config, cell("argv", "bare", rep=2), payload=Threaded(usable))
    assert run["status"] == "ok" and run["threads_per_copy"] == usable
