"""Sealed raw logs (execbench.integrity, issue 13, R3): root's and read-only at the end of a run,
their sha256 in run.json, checked by the parse stage; tried with real users and real runs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import ArgvPayload, make_config

from execbench.config import RunCell
from execbench.ingest import ingest
from execbench.integrity import check_run_dir, seal_run_dir
from execbench.parse import parse_run_dir
from execbench.paths import REPO_ROOT
from execbench.runner import LOCK_ENV, run_cell

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
NO_IMAGE = {"name": "none", "reference": None, "digest": None}
HOST_BARE = {"bare-host": {"kind": "bare", "variant": "host"}}
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="seals as root, tries as another real user")


@pytest.fixture(autouse=True)
def own_benchmark_lock(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "benchmark.lock"))


def as_user(user: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", "sh", "-c", script], capture_output=True, text=True,
                          timeout=60)


@root_only
@pytest.mark.docker
def test_r3_a_finished_db12_log_cannot_be_rewritten_and_a_change_is_reported_as_tampered(payload_image, shared_dir):
    """R3's reproducer: the payload user (execbench, uid 10001 on the host) rewrites db12.json."""
    config = make_config(shared_dir / "r3" / "results", payload_image, payloads={"db12": {}})
    run = run_cell(config, RunCell("db12", "docker", 1, 1))
    assert run["status"] == "ok", run["reason"]
    run_dir = Path(config["results"]) / "raw/db12/docker/1c/r1"
    log = run_dir / "copy0/db12.json"
    sealed = run["sealed"]["files"]["copy0/db12.json"]
    for path in [run_dir, *run_dir.rglob("*")]:
        st = path.lstat()
        assert st.st_uid == 0 and not st.st_mode & 0o022, path  # root's, and writable by no one else
        if path.is_file():
            assert stat.S_IMODE(st.st_mode) == 0o444
    before = log.read_bytes()
    tried = as_user("execbench", f"printf 999.0 > {log}")
    assert tried.returncode != 0 and "Permission denied" in tried.stderr
    assert log.read_bytes() == before and parse_run_dir(run_dir)["errors"] == []

    log.chmod(0o644)  # whoever got past that (root, a restored backup ...): the parse stage notices
    log.write_text("999.0")
    parsed = parse_run_dir(run_dir)
    assert parsed["records"] == []
    [error] = parsed["errors"]
    assert error["path"] == str(log) and error["tampered"]
    assert sealed["sha256"] in error["expected"] and "changed after the run (tampered)" in error["expected"]
    # every table reads the run as failed, with why (runs.csv said "ok" while the summary said failed)
    assert parsed["run"]["status"] == "failed" and "(tampered)" in parsed["run"]["reason"]
    out = shared_dir / "r3" / "parsed.json"  # the rule's command line says so too
    cli = subprocess.run([sys.executable, "-m", "execbench", "parse", "--runs", str(run_dir / "run.json"),
                          "--outputs", str(out)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert cli.returncode == 0 and f"skipped {log}" in cli.stderr and "tampered" in cli.stderr


@root_only
def test_a_payloads_symlink_and_fifo_are_never_followed_nor_read(shared_dir):
    """A payload leaves copy0/x -> /etc/shadow and a FIFO: the root-run parse stage must neither
    read the host's shadow file (and echo it in an error) nor hang on the FIFO."""
    config = make_config(shared_dir / "links" / "results", NO_IMAGE, modes=HOST_BARE)
    payload = ArgvPayload(["sh", "-c", "ln -s /etc/shadow shadow.log; mkfifo pipe.log; echo ok"])
    run = run_cell(config, RunCell("argv", "bare-host", 1, 1), payload=payload)
    assert run["status"] == "ok", run["reason"]
    assert run["sealed"]["not_regular"] == {"copy0/pipe.log": "FIFO", "copy0/shadow.log": "symbolic link"}
    assert stat.S_IMODE(Path("/etc/shadow").stat().st_mode) != 0o444  # the link's target untouched
    run_dir = Path(config["results"]) / "raw/argv/bare-host/1c/r1"
    result = {}
    worker = threading.Thread(target=lambda: result.update(parse_run_dir(run_dir)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the parse stage hangs on a payload's FIFO"
    assert result["records"] == []
    assert {Path(e["path"]).name for e in result["errors"]} == {"pipe.log", "shadow.log"}
    shadow = Path("/etc/shadow").read_text()
    assert all(line.split(":")[1] not in json.dumps(result) for line in shadow.splitlines()
               if len(line.split(":")) > 1 and len(line.split(":")[1]) > 3)


def test_added_and_removed_files_are_tampering_too(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "copy0").mkdir(parents=True)
    (run_dir / "copy0/a.log").write_text("a\n")
    (run_dir / "copy0/b.log").write_text("b\n")
    run = {"sealed": seal_run_dir(run_dir)}
    assert check_run_dir(run_dir, run) == []
    if os.geteuid() == 0:
        assert (run_dir / "copy0").stat().st_mode & 0o777 == 0o755
    (run_dir / "copy0/b.log").unlink()
    (run_dir / "copy0/c.log").write_text("c\n")
    problems = {Path(p["path"]).name: p["expected"] for p in check_run_dir(run_dir, run)}
    assert "it is gone (tampered)" in problems["b.log"] and "added later (tampered)" in problems["c.log"]


def test_an_ingested_file_changed_after_ingest_is_reported_as_tampered(tmp_path):
    manifest = tmp_path / "manifest.csv"
    shutil.copytree(FIXTURES / "db12", tmp_path / "db12")
    name = sorted(p.name for p in (tmp_path / "db12").iterdir() if p.suffix == ".json")[0]
    manifest.write_text(f"path,host,mode,payload,copies,repetition,label,format,copy\n"
                        f"db12/{name},wn01,bare,db12,1,1,site,,0\n")
    summary = ingest(manifest, tmp_path / "results")
    [run] = summary["ingested"]
    run_dir = tmp_path / "results/raw" / run["rel_dir"]
    assert parse_run_dir(run_dir)["errors"] == []
    copied = next((run_dir / "copy0").iterdir())
    copied.write_text(copied.read_text().replace("1", "9"))
    parsed = parse_run_dir(run_dir)
    assert parsed["records"] == [] and [e["path"] for e in parsed["errors"]] == [str(copied)]
    assert "(tampered)" in parsed["errors"][0]["expected"]


def test_a_many_runs_file_changed_after_ingest_is_tampered_for_every_run_that_reads_it(tmp_path):
    """Ingest copies a many-runs file once, into the first run; the later runs name that copy
    (../r1/...): a change to it is tampering for each of them, and an intact copy is not."""
    shutil.copy(FIXTURES / "stream" / "stream_two_runs.txt", tmp_path / "loop.log")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\nloop.log,wn01,bare,stream,1,1,loop\n")
    assert [r["rel_dir"] for r in ingest(manifest, tmp_path / "results")["ingested"]] == [
        "stream/bare/1c/r1", "stream/bare/1c/r2"]
    runs = tmp_path / "results/raw/stream/bare/1c"
    assert [parse_run_dir(runs / rep)["errors"] for rep in ("r1", "r2")] == [[], []]
    [copied] = [p for p in (runs / "r1").rglob("*") if p.is_file() and p.name not in ("run.json", "ingest.json")]
    os.chmod(copied, 0o644)
    copied.write_text(copied.read_text().replace("11000.0", "99000.0"))
    for rep in ("r1", "r2"):
        parsed = parse_run_dir(runs / rep)
        assert parsed["records"] == [] and len(parsed["errors"]) == 1, parsed["errors"]
        assert Path(parsed["errors"][0]["path"]).resolve() == copied.resolve()
        assert "changed after the run (tampered)" in parsed["errors"][0]["expected"]
