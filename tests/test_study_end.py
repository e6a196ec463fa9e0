"""A real small study through the README command (`bash scripts/run.sh`) with a deliberately broken
payload: the summary on the terminal and on the report's first screen, the non-zero exit, the
config key that relaxes it, and redoing one finished run with the README's recipe.

The study: DB12 and STREAM at smoke size, bare metal and Docker, 1 copy, 2 repetitions, in the
real image, after the host audit (once per mode). DB12 is broken the way a site could break it: `timeout_s: 0.5` (a copy takes ~2 s
here), so the launcher kills every DB12 copy and DB12 has no valid bare-metal run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from execbench import browser
from execbench.paths import REPO_ROOT
from helpers import CACHE, REGISTRY  # the tests' registry and cache (CI: its own, empty)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _study_config(results: Path) -> dict:
    return {
        "extends": "default",  # the default study with its other payloads and modes switched off
        "study": {"name": "broken-db12", "repetitions": 2, "copies": [1]},
        "results": str(results),
        "registry": {"address": REGISTRY},
        "cache": str(CACHE),
        "modes": {"podman": {"enabled": False}, "vm": {"enabled": False}, "bare-aa": {"enabled": False}},
        "payloads": {"db12": {"timeout_s": 0.5}, "cpusuite": {"enabled": False}, "hepchain": {"enabled": False},
                     "fio": {"enabled": False}, "startup": {"enabled": False}, "syscost": {"enabled": False}},
    }


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "HOME", "LANG", "TMPDIR")
              or k.startswith("EXECBENCH_")}, "PATH": PLAIN_PATH}
    env.pop("EXECBENCH_REGEN_GOLDEN", None)
    return subprocess.run(["bash", "scripts/run.sh", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=1800)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken-study")
    config = root / "study.yaml"
    config.write_text(yaml.safe_dump(_study_config(root / "results")))
    first = _run("--configfile", str(config))
    return root / "results", config, first


def test_study_with_a_broken_payload_says_so_and_exits_non_zero(study):
    results, _, first = study
    out = first.stdout + first.stderr
    assert first.returncode != 0, out[-3000:]
    # every run was done and the tables and report are written all the same
    runs = [json.loads(p.read_text()) for p in results.glob("raw/*/*/1c/r*/run.json")]
    assert sorted((r["payload"], r["mode"], r["status"]) for r in runs) == sorted(
        [("audit", m, "ok") for m in ("bare", "docker")]  # the host audit, once per mode
        + [("db12", m, "failed") for m in ("bare", "docker") for _ in (1, 2)]
        + [("stream", m, "ok") for m in ("bare", "docker") for _ in (1, 2)])
    # the chain job ran the audit first, in round 1 only
    by_order = sorted(runs, key=lambda r: r["order_index"])
    assert [(r["payload"], r["repetition"]) for r in by_order[:2]] == [("audit", 1)] * 2
    assert (results / "report" / "index.html").is_file() and (results / "tables" / "relative.csv").is_file()
    # the summary on the terminal: the table, the reason from the copy's own record, the verdict
    assert re.search(r"^  db12 +0 ok, 2 failed +0 ok, 2 failed$", out, re.M), out[-3000:]
    assert re.search(r"^  stream +2 ok +2 ok$", out, re.M), out[-3000:]
    assert re.search(r"failed: timed out: killed after 0\.\d s, the payload's timeout_s", out), out[-3000:]
    assert "NO ANSWER: db12: no valid bare-metal run (timed out: killed after" in out
    # ... and repeated as the last lines, after Snakemake's own error report
    tail = out[out.index("Exiting because a job execution failed"):]
    assert "execbench: NO ANSWER: db12: no valid bare-metal run" in tail
    summary = json.loads((results / "tables" / "summary.json").read_text())
    assert summary["problems"] == [p for p in summary["problems"] if p.startswith("db12:")] and summary["problems"]
    assert not (results / ".execbench" / "study-answer.txt").exists()


def test_the_report_opens_with_the_summary_on_its_first_screen(study, tmp_path):
    results, _, _ = study
    html = (results / "report" / "index.html").read_text()
    box = html[html.index('class="noanswer"'):]
    assert "db12: no valid bare-metal run (timed out: killed after" in box[:box.index("</div>")]
    assert "db12 in bare gave no number: every run failed: timed out" in html
    seen = browser.check_report(results / "report" / "index.html", tmp_path / "report.png")
    assert seen["ok"], seen  # figures decode, the answer has STREAM's comparison
    # the first screen is the answer (issue 15): the no-answer box is on it, the summary folded below
    assert seen["answer_top"] < seen["viewport_height"] and seen["no_answer_top"] < seen["viewport_height"]
    assert seen["no_answer_top"] < seen["summary_top"]


def test_a_rerun_prints_the_summary_and_fails_again(study):
    _, config, _ = study
    again = _run("--configfile", str(config))
    assert again.returncode != 0
    assert "NO ANSWER: db12: no valid bare-metal run" in again.stdout + again.stderr
    assert "rule run_chain" not in again.stdout + again.stderr  # nothing measured again


def test_fail_without_answer_false_reports_and_exits_zero_and_one_run_is_redone_alone(study):
    results, config, _ = study
    relaxed = _run("--configfile", str(config), "--config", "fail_without_answer=false")
    out = relaxed.stdout + relaxed.stderr
    assert relaxed.returncode == 0, out[-3000:]
    assert "fail_without_answer is false: the exit status stays 0." in out
    # README: redo one finished run: set it aside, run the study again
    target = results / "raw" / "stream" / "docker" / "1c" / "r1" / "run.json"
    before = {p: p.stat().st_mtime_ns for p in results.glob("raw/*/*/1c/r*/run.json")}
    old = json.loads(target.read_text())
    report_before = (results / "report" / "index.html").stat().st_mtime_ns
    aside = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "execbench", "redo", "--results",
                            str(results), "stream/docker/1c/r1"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert aside.returncode == 0 and "set aside in" in aside.stdout, aside.stdout + aside.stderr
    redo = _run("--configfile", str(config), "--config", "fail_without_answer=false")
    assert redo.returncode == 0, (redo.stdout + redo.stderr)[-3000:]
    changed = [p for p in before if p.stat().st_mtime_ns != before[p]]
    assert changed == [target]  # that run only: the later runs of the chain are kept
    new = json.loads(target.read_text())
    assert new["started_utc"] > old["ended_utc"] and new["status"] == "ok"
    moved = Path(new["previous_attempt"])  # the old logs, kept, and named by the new run
    assert moved.parent == results / "raw" / ".incomplete" and json.loads((moved / "run.json").read_text()) == old
    assert (results / "report" / "index.html").stat().st_mtime_ns > report_before  # parse, tables, report
    measurements = (results / "tables" / "measurements.csv").read_text()
    assert new["run_id"] in measurements


def test_an_edited_config_plans_its_new_runs_at_once(study):
    """More repetitions on the finished study: the dry run plans the chain job again (its plan
    digest changed; it resumes, so only the new runs are measured), then parse, tables, report."""
    _, config, _ = study
    plan = _run("--configfile", str(config), "--config", "study={repetitions: 3}", "-n")
    out = plan.stdout + plan.stderr
    assert plan.returncode == 0, out[-3000:]
    counts = {parts[0]: int(parts[1]) for parts in (line.split() for line in out.splitlines())
              if len(parts) == 2 and parts[1].isdigit()}
    assert counts.get("run_chain") == 1 and counts.get("parse_runs") == 1, out[-3000:]
    assert "run_config" not in counts
    assert re.search(r"reason: .*[Pp]arams", out[out.index("rule run_chain"):]), out[-3000:]
