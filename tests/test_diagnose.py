"""Why a run gave no number, from the payload's own logs: real failed run directories (kept from
a study on an AVX-512 host, tests/fixtures/logs/runs/) and hand-made copies for the fallbacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from execbench import diagnose, payloads
from execbench.errors import ParseError
from execbench.parse import parse_run_dir
from execbench.paths import REPO_ROOT

RUNS = REPO_ROOT / "tests" / "fixtures" / "logs" / "runs"


def test_cpusuite_wrong_output_is_named_from_its_log_not_the_exit_code():
    run_dir = RUNS / "cpusuite_x264_avx512_ve"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["reason"] == "copy 0: exit code 1"  # all the harness saw
    parsed = parse_run_dir(run_dir)
    assert parsed["records"] == []  # a failed run enters no table
    [reason] = parsed["log_reasons"]
    assert reason["reason"] == "464.x264 VE: output differs from the recorded answer"
    assert reason["detail"].startswith("VE: output sha256 c11d341b43e532e4")
    assert reason["source_file"] == str(run_dir / "copy0" / "cpusuite.log")
    lines = (run_dir / "copy0" / "cpusuite.log").read_text().splitlines()
    assert lines[reason["source_line"] - 1].startswith("464.x264 ") and lines[reason["source_line"] - 1].endswith("VE")
    assert reason["copies"] == [0]


def test_timed_out_copy_is_named_from_its_launch_record():
    parsed = parse_run_dir(RUNS / "db12_timeout")
    [reason] = parsed["log_reasons"]
    assert reason["reason"] == "timed out: killed after 0.5 s, the payload's timeout_s"
    assert reason["source_file"].endswith("db12_timeout/copy0/launch.json")


def _failed_run(tmp_path: Path, payload: str = "db12", copies: int = 1, exit_code: int = 1) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({
        "payload": payload, "copies": copies, "status": "failed", "reason": f"copy 0: exit code {exit_code}",
        "copies_result": [{"copy": i, "exit_code": exit_code, "timed_out": False} for i in range(copies)]}))
    for i in range(copies):
        (run_dir / f"copy{i}").mkdir()
        (run_dir / f"copy{i}" / "launch.json").write_text(json.dumps({"exit_code": exit_code, "timed_out": False}))
    return run_dir


def test_copy_without_its_log_speaks_through_the_last_line_of_its_stderr(tmp_path):
    run_dir = _failed_run(tmp_path)
    (run_dir / "copy0" / "stderr.log").write_text(
        "Traceback (most recent call last):\n  File \"/opt/execbench/db12.py\", line 9\n"
        "MemoryError: cannot allocate the work array\n\n")
    [reason] = parse_run_dir(run_dir)["log_reasons"]
    assert reason["reason"] == "MemoryError: cannot allocate the work array"
    assert reason["source_line"] == 3 and reason["detail"] == "last line of the copy's stderr (exit code 1)"


def test_copy_that_said_nothing_gives_its_exit_code_and_one_that_never_started_says_so(tmp_path):
    run_dir = _failed_run(tmp_path, copies=2, exit_code=137)
    (run_dir / "copy1" / "launch.json").unlink()
    reasons = {r["reason"]: r["copies"] for r in parse_run_dir(run_dir)["log_reasons"]}
    assert reasons == {"exit code 137, nothing on stderr": [0], "the copy did not start (no launch.json)": [1]}


def test_log_cut_short_falls_back_to_the_copy_record(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "cpusuite_x264_avx512_ve", run_dir)
    log = run_dir / "copy0" / "cpusuite.log"
    log.write_text("\n".join(log.read_text().splitlines()[:8]) + "\n")  # killed mid-suite: no '=' rule
    (run_dir / "copy0" / "stderr.log").write_text("cpusuite: killed\n")
    try:
        payloads.get("cpusuite").parse(run_dir)
        raise AssertionError("a cut log must not parse")
    except ParseError:
        pass
    [reason] = parse_run_dir(run_dir)["log_reasons"]
    assert reason["reason"] == "cpusuite: killed"


def test_harness_failure_before_any_copy_keeps_the_run_json_reason(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({
        "payload": "db12", "copies": 1, "status": "failed", "copies_result": [],
        "reason": "no image record results/images/debian12.json (run the images stage first)"}))
    [reason] = parse_run_dir(run_dir)["log_reasons"]
    assert reason["reason"].startswith("no image record results/images/debian12.json")


def test_unavailable_and_clean_runs_have_no_log_reasons(tmp_path):
    run = {"payload": "db12", "status": "unavailable", "reason": "no /dev/kvm"}
    assert diagnose.log_reasons(run, tmp_path, lambda: []) == []


def test_record_reason_uses_spec_status_codes_and_falls_back_to_the_detail():
    base = {"benchmark": "450.soplex", "status": "failed", "detail": "iteration 1 status RE"}
    assert diagnose.record_reason({**base, "extra": {"spec_status": "RE"}}) == "450.soplex RE: run-time error"
    assert diagnose.record_reason({**base, "extra": {"spec_statuses": ["S", "VE", "S"]}}) == (
        "450.soplex VE: output differs from the recorded answer")
    assert diagnose.record_reason({**base, "extra": {}}) == "450.soplex: iteration 1 status RE"


def test_one_failure_hitting_several_benchmarks_is_one_reason_naming_them():
    from execbench import parsers

    records = [r.to_dict() for r in parsers.get("stream").parse(REPO_ROOT / "tests/fixtures/logs/stream/stream_failed.txt")]
    [reason] = diagnose.reasons_from_records(records, "stream")
    assert reason["reason"].startswith("copy, scale, add, triad: STREAM did not validate (line 32: Failed Validation")
    many = [{"benchmark": f"b{i}", "status": "failed", "copy": 0, "extra": {"spec_status": "VE"}} for i in range(6)]
    [reason] = diagnose.reasons_from_records(many, "cpusuite")
    assert reason["reason"] == "b0, b1, b2, b3 and 2 more VE: output differs from the recorded answer"


def _valid_cpusuite_log(failed_log: str) -> str:
    """The VE fixture's log as if 464.x264 had validated (S, a ratio, a score, Status: valid)."""
    out = []
    for line in failed_log.splitlines():
        if line.startswith("! "):
            continue
        if line.startswith("464.x264") and line.endswith("VE"):
            line = line.replace("--     ", "1.0536     ").removesuffix("VE") + "S"
        line = line.replace("ratios): --", "ratios): 0.9012").replace("Status: invalid", "Status: valid")
        out.append(line)
    return "\n".join(out) + "\n"


def test_copy_without_log_next_to_a_good_copy_is_named_once_by_its_own_record(tmp_path):
    # copy 0 validated; copy 1 timed out before writing its log. The machine-level score ("sum over
    # 2 copies not available: copy 1: ...", whose source is copy 0's log) must not stand in for it.
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "cpusuite_x264_avx512_ve", run_dir)
    log = run_dir / "copy0" / "cpusuite.log"
    log.write_text(_valid_cpusuite_log(log.read_text()))
    (run_dir / "copy1").mkdir()
    (run_dir / "copy1" / "launch.json").write_text(json.dumps({"exit_code": -9, "timed_out": True, "wall_s": 1800.2}))
    _edit_run(run_dir, copies=2, copies_result=[{"copy": 0, "exit_code": 0, "timed_out": False},
                                                {"copy": 1, "exit_code": -9, "timed_out": True}])
    records = payloads.get("cpusuite").parse(run_dir)
    assert any(r.copy is None and r.status != "ok" and Path(r.source_file).exists() for r in records)
    reasons = parse_run_dir(run_dir)["log_reasons"]
    assert [(r["reason"], r["copies"]) for r in reasons] == [
        ("timed out: killed after 1800.2 s, the payload's timeout_s", [1])]


def _edit_run(run_dir: Path, **changes) -> None:
    run = json.loads((run_dir / "run.json").read_text())
    run.update(changes)
    (run_dir / "run.json").write_text(json.dumps(run))
