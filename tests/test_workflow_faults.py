"""The workflow under hostile paths and a full disk (issue 13, R9 and R12), run for real through
Snakemake (scripts/run.sh where the reproducer says so) on a fixture's raw run: no benchmark runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import world_writable

from execbench.paths import REPO_ROOT

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "logs" / "runs" / "db12_timeout"
RULES = sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk"))


def raw_results(results: Path) -> Path:
    """A results dir holding one real raw run (a failed DB12 run: enough for every stage)."""
    shutil.copytree(FIXTURE_RUN, results / "raw" / "db12" / "bare" / "1c" / "r1")
    return results


def shell_strings(text: str) -> list[str]:
    """The Python string literals of every `shell:` directive of a rule file."""
    out = []
    for block in re.findall(r"\n(\s+)shell:\n((?:\1\s+.*\n)+)", text):
        out.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block[1])))
    return out


def test_every_placeholder_on_a_shell_line_is_quoted():
    """R9: every {...} a rule puts on a shell line is shell-quoted by Snakemake (:q)."""
    lines = [(rule.name, line) for rule in RULES for line in shell_strings(rule.read_text())]
    assert len(lines) >= 8  # every shell rule was found
    unquoted = [(name, field) for name, line in lines for field in re.findall(r"\{[^{}]*\}", line)
                if not field.endswith(":q}")]
    assert unquoted == []


def test_r9_a_results_path_with_a_command_substitution_runs_nothing(tmp_path):
    """R9's reproducer, through scripts/run.sh: results=res$(touch INJECTED) (here under tmp_path;
    an injected command would run in the jobs' working directory, the repository)."""
    results = tmp_path / "res$(touch INJECTED)"
    raw_results(results)
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts/run.sh"), "--config", "from_raw=True",
                           f"results={results}", "fail_without_answer=false"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert not (REPO_ROOT / "INJECTED").exists() and not (tmp_path / "INJECTED").exists()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (results / "report" / "index.html").is_file()


def test_r9_a_results_path_with_a_space_works_end_to_end(tmp_path):
    results = raw_results(tmp_path / "my results")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", "from_raw=True",
                           f"results={results}", "fail_without_answer=false"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (results / "report" / "index.html").is_file() and (results / "tables" / "summary.json").is_file()
    assert world_writable(results) == []  # no file the stages made as root is open to every local user


@pytest.fixture
def full_disk(tmp_path):
    """A 2 MiB tmpfs, mounted for the test and unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    point = tmp_path / "small"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(point: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={point / 'filler'}", "bs=64k"], capture_output=True)
    assert shutil.disk_usage(point).free < 64 * 1024


def test_r12_a_full_disk_says_why_on_snakemakes_own_stderr(full_disk):
    """R12: the parse job cannot write its output nor its log; the reason is still on the
    terminal (Snakemake's stderr), and no empty temporary file stays behind."""
    results = raw_results(full_disk / "results")
    (results / "logs" / "parse").mkdir(parents=True)
    fill(full_disk)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config", "from_raw=True",
                           f"results={results}", "fail_without_answer=false"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    reasons = [line for line in proc.stderr.splitlines() if line.startswith("execbench: parse: ")]
    assert reasons and "No space left on device" in reasons[0], proc.stderr[-3000:]
    leftovers = [p for p in results.rglob("*") if ".tmp" in p.name or (p.suffix == ".json" and not p.stat().st_size)]
    assert leftovers == []
