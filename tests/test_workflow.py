"""The Snakemake workflow as a whole: dry run, lint, formatting, config errors before any job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from execbench.paths import REPO_ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _snakemake(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "--cores", "1", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_dry_run_of_default_config_schedules_one_chain_one_parse_and_the_report(tmp_path):
    # A fresh results dir: the dry run must plan the whole study from nothing.
    results = tmp_path / "results"
    result = _snakemake("-n", "--config", f"results={results}")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    counts = _job_counts(out)
    # one job carries out the host's whole chain of runs (execbench.chain); one job parses them all
    assert counts.get("run_chain") == 1 and counts.get("parse_runs") == 1, out
    assert "image" in counts and "report" in counts, out
    assert f"{results}/raw/.chains/local.json" in out and f"{results}/parsed/runs.jsonl" in out
    # the chain has the node to itself (run.smk's slurm_extra), not pinned without cluster.hosts
    assert out.count("slurm_extra=--exclusive\n") == 1
    assert "--host" not in out


def test_bad_config_stops_before_any_job_naming_the_key(tmp_path):
    result = _snakemake("-n", "--config", "study={repetitions: 0}", f"results={tmp_path / 'r'}")
    assert result.returncode != 0
    assert "study.repetitions" in result.stderr + result.stdout
    assert not (tmp_path / "r").exists()


def test_lint_is_clean():
    result = subprocess.run([*SNAKEMAKE, "--lint"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("snakefmt", path=str(Path(sys.executable).parent)) is None, reason="snakefmt not installed")
def test_snakefmt_check_is_clean():
    snakefmt = str(Path(sys.executable).parent / "snakefmt")
    files = ["Snakefile", *map(str, sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk")))]
    result = subprocess.run([snakefmt, "--check", *files], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _job_counts(out: str) -> dict[str, int]:
    """Snakemake's job-count table of a dry run: rule -> jobs."""
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def _group_outputs(out: str) -> dict[str, list[str]]:
    """Group job id -> outputs of its member jobs, from a dry run's log. A group's jobs are
    printed indented after its 'Group job <id> (...)' line; the next unindented rule ends it."""
    groups, current = {}, None
    for line in out.splitlines():
        if "] Group job " in line:
            current = line.split("] Group job ", 1)[1].split()[0]
            groups[current] = []
        elif line.startswith("rule "):
            current = None
        elif current and line.strip().startswith("output: "):
            groups[current].append(line.strip().removeprefix("output: "))
    return groups


TWO_HOSTS = "cluster={hosts: [nodeA, nodeB]}"


def test_dry_run_with_two_hosts_is_one_pinned_exclusive_chain_job_per_host(tmp_path):
    results = tmp_path / "results"
    result = _snakemake("-n", "--config", f"results={results}", TWO_HOSTS)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = _job_counts(out)
    assert counts.get("run_chain") == 2, out[-3000:]  # one per host, each the host's whole chain
    assert counts.get("parse_runs") == 1 and counts.get("report") == 1  # every host in one report
    for host in ("nodeA", "nodeB"):
        assert f"{results}/raw/.chains/{host}.json" in out
        assert out.count(f"slurm_extra=--exclusive --nodelist={host}\n") == 1  # pinned, node to itself
        assert f"--host {host}" in out


def test_from_raw_dry_run_parses_every_run_on_disk_in_one_job_with_one_output(tmp_path):
    results = tmp_path / "results"
    for rel in ("db12/bare/1c/r1@nodeA", "db12/docker/1c/r1@nodeA", "db12/bare/1c/r1"):
        (results / "raw" / rel).mkdir(parents=True)
        (results / "raw" / rel / "run.json").write_text("{}")
    result = _snakemake("-n", "--config", f"results={results}", "from_raw=True")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = _job_counts(out)
    assert counts.get("parse_runs") == 1 and "run_chain" not in counts  # one job, whatever the runs
    assert f"{results}/parsed/runs.jsonl" in out
    assert f"{results}/parsed/db12" not in out  # no declared output per run


def test_bad_or_missing_manifest_does_not_stop_the_dag(tmp_path):
    # a manifest is read by the ingest job, never while the DAG is built (issue 13 item 5)
    results = tmp_path / "results"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe not a manifest")
    for manifest in (bad, tmp_path / "missing.csv"):
        result = _snakemake("-n", "--config", f"results={results}", "from_raw=True",
                            f"ingest={{manifest: {manifest}}}")
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        counts = _job_counts(out)
        assert counts.get("ingest_logs") == 1 and counts.get("report") == 1, out
