"""The Snakemake workflow as a whole: dry run, lint, formatting, config errors before any job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from execbench.config import load_config, run_matrix
from execbench.paths import REPO_ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _snakemake(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "--cores", "1", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_dry_run_of_default_config_schedules_every_run_and_the_report(tmp_path):
    # A fresh results dir: the dry run must plan the whole study from nothing.
    result = _snakemake("-n", "--config", f"results={tmp_path / 'results'}")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    cells = run_matrix(load_config(REPO_ROOT / "config" / "config.yaml"))
    # Snakemake's job-count table: every matrix cell is one run job and one parse job.
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts.get("run_payload") == len(cells), out
    assert counts.get("parse_run") == len(cells), out
    assert "image" in counts and "report" in counts, out


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
