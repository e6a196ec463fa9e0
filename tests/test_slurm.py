"""A real single-node SLURM cluster (Debian slurm-wlm + munge) on loopback,
started by the test set-up with scripts/setup/slurm.sh: plain batch jobs, and
the smoke matrix through `--profile profiles/slurm` end to end."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import CACHE, REGISTRY  # the tests' registry and cache (CI: its own, empty)
from execbench.paths import REPO_ROOT

pytestmark = pytest.mark.slurm

SETUP = REPO_ROOT / "scripts" / "setup" / "slurm.sh"
# scripts/setup.sh installs the SLURM executor plugin here, off the default import path:
# like scripts/run.sh, the profile run puts it on PYTHONPATH (the jobs inherit it)
CLUSTER_PLUGINS = REPO_ROOT / ".venv" / "cluster-plugins"
DAEMON_PIDFILES = ("/run/munge/munged.pid", "/run/slurmctld.pid", "/run/slurmd.pid")


def _alive(pidfile: str) -> bool:
    try:
        os.kill(int(Path(pidfile).read_text().split()[0]), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="session")
def slurm_node(tmp_path_factory) -> str:
    """Start the loopback cluster (unless it already runs); its node name. Stops
    the daemons at the end only if this fixture started them."""
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons need root")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("no slurmctld and no apt-get to install it")
    already_running = all(_alive(p) for p in DAEMON_PIDFILES)
    env = {**os.environ, "EXECBENCH_STATE": str(tmp_path_factory.mktemp("slurm-state"))}
    start = subprocess.run(["bash", str(SETUP), "start"], capture_output=True, text=True, timeout=300, env=env)
    assert start.returncode == 0, start.stdout + start.stderr
    node = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    yield node
    if not already_running:
        subprocess.run(["bash", str(SETUP), "stop"], capture_output=True, text=True, timeout=120, env=env)


def _job_field(job_id: str, name: str) -> str:
    # Finished jobs stay in slurmctld's memory for MinJobAge (300 s here).
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    match = re.search(rf"\b{name}=(\S+)", out)
    assert match, out
    return match.group(1)


def test_daemons_listen_on_loopback_only(slurm_node):
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    # slurmctld 6817, slurmd 6818 (SlurmctldPort/SlurmdPort defaults)
    addresses = {line.split()[3] for line in listening.splitlines() if re.search(r":681[78]\b", line.split()[3])}
    assert addresses == {"127.0.0.1:6817", "127.0.0.1:6818"}, listening
    again = subprocess.run(["bash", str(SETUP), "status"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "idle" in again.stdout, again.stdout + again.stderr


def test_sbatch_wrap_job_runs_on_the_node_and_finishes(slurm_node, tmp_path):
    out = tmp_path / "job.out"
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--wait", "-o", str(out), "--wrap", 'echo "node=$(hostname -s) job=$SLURM_JOB_ID"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    assert out.read_text().strip() == f"node={slurm_node} job={job_id}"
    assert _job_field(job_id, "JobState") == "COMPLETED"
    assert _job_field(job_id, "NodeList") == slurm_node


def test_failing_job_is_reported_failed_with_its_exit_code(slurm_node, tmp_path):
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--wait", "-o", str(tmp_path / "fail.out"), "--wrap", "exit 3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 3, submitted.stdout + submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    assert _job_field(job_id, "JobState") == "FAILED"
    assert _job_field(job_id, "ExitCode") == "3:0"


def _smoke_matrix_through_slurm(results: Path, slurm_logs: Path, *config: str) -> str:
    """config/examples/slurm-smoke.yaml through `--profile profiles/slurm`, building and pushing
    with the tests' registry and cache; Snakemake's output."""
    site = results.parent / "site.yaml"
    site.write_text(yaml.safe_dump({"registry": {"address": REGISTRY}, "cache": str(CACHE)}))
    python_path = os.pathsep.join(filter(None, [str(CLUSTER_PLUGINS), os.environ.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm",
         "--configfile", "config/examples/slurm-smoke.yaml", str(site),
         "--config", f"results={results}", *config, "--slurm-logdir", str(slurm_logs)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": python_path},
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    return log


@pytest.mark.docker
@pytest.mark.slow
def test_smoke_matrix_through_the_slurm_profile_end_to_end(slurm_node, tmp_path):
    """Every job through sbatch; raw logs land; the report builds with the SLURM node as host."""
    results = tmp_path / "results"
    slurm_logs = tmp_path / "slurm-logs"
    log = _smoke_matrix_through_slurm(results, slurm_logs)

    run_jsons = sorted(results.glob("raw/*/*/*c/r*/run.json"))
    assert {p.relative_to(results / "raw").parts[1] for p in run_jsons} == {"bare", "docker"}, run_jsons
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    chain_logs = list((slurm_logs / "rule_run_chain").rglob("*.log"))
    # the host's chain was one sbatch job (both runs inside it), and kept its SLURM log
    assert len(chain_logs) == 1, chain_logs
    assert submitted
    assert len({json.loads(p.read_text())["batch"]["job_id"] for p in run_jsons}) == 1
    for path in run_jsons:
        record = json.loads(path.read_text())
        assert record["status"] == "ok", (path, record.get("reason"))
        assert record["host"]["hostname"] == slurm_node
        assert sorted(p.name for p in path.parent.glob("copy*")) == ["copy0"]
        assert any((path.parent / "copy0").iterdir()), "native logs of copy 0 missing"

    with open(results / "tables" / "measurements.csv", newline="") as handle:
        hosts = {row["host"] for row in csv.DictReader(handle)}
    assert hosts == {slurm_node}
    assert (results / "report" / "index.html").stat().st_size > 0


@pytest.mark.docker
@pytest.mark.slow
def test_fan_out_to_a_named_host_runs_its_chain_as_one_pinned_job(slurm_node, tmp_path):
    """cluster.hosts fan-out on the real cluster: the host's whole run chain is ONE sbatch job
    pinned to that node; every run records that job and pairing ok."""
    results = tmp_path / "results"
    _smoke_matrix_through_slurm(results, tmp_path / "slurm-logs", f"cluster={{hosts: [{slurm_node}]}}")
    run_jsons = sorted(results.glob("raw/*/*/*c/r*/run.json"))
    # the host audit heads the chain (bare, docker), then db12 (bare, docker)
    assert [p.parent.name for p in run_jsons] == [f"r1@{slurm_node}"] * 4, run_jsons
    records = [json.loads(p.read_text()) for p in run_jsons]
    assert {r["mode"] for r in records} == {"bare", "docker"} and {r["payload"] for r in records} == {"audit", "db12"}
    assert sorted(r["order_index"] for r in records if r["payload"] == "audit") == [0, 1]
    for record in records:
        assert record["status"] == "ok", record.get("reason")
        assert record["batch"]["system"] == "slurm" and record["batch"]["node"] == slurm_node
        assert record["cluster_host"] == slurm_node and record["pairing"] == "ok"
    # one job for the host's chain: both runs inside the same SLURM job, which was exclusive
    job_ids = {r["batch"]["job_id"] for r in records}
    assert len(job_ids) == 1, job_ids
    job_id = job_ids.pop()
    assert _job_field(job_id, "NodeList") == slurm_node
    assert _job_field(job_id, "OverSubscribe") == "NO"
    with open(results / "tables" / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["pairing"] for row in rows} == {"ok"}
    assert (results / "report" / "index.html").stat().st_size > 0
