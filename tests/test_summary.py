"""The study summary (runs ok / failed / unavailable per payload and mode, why, and whether the study
has an answer) from synthetic parsed runs (tests/synthetic_runs.py, fakes on purpose), and the
end-of-study script that prints it and sets the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import synthetic_runs

from execbench.summary import render_text
from execbench.tables import write_tables

VE_REASON = {"reason": "464.x264 VE: output differs from the recorded answer",
             "detail": "VE: output sha256 c11d341b43e532e4... != expected 8192244ede9013db...",
             "source_file": "results/raw/cpusuite/bare/1c/r1/copy0/cpusuite.log", "source_line": 23, "copies": [0]}


def _summary(paths, out: Path) -> dict:
    files = write_tables(paths, out)
    return json.loads(files["summary"].read_text())


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _cell(summary: dict, payload: str, mode: str) -> dict:
    return next(p for p in summary["payloads"] if p["payload"] == payload)["modes"][mode]


def test_counts_per_payload_and_mode_with_the_reasons(tmp_path):
    summary = _summary(synthetic_runs.write_parsed_runs(tmp_path / "parsed"), tmp_path / "tables")
    assert summary["modes"][0] == "bare" and set(summary["modes"]) == {"bare", "docker", "podman", "vm"}
    docker = _cell(summary, "cpusuite", "docker")
    assert (docker["runs"], docker["ok"], docker["failed"], docker["unavailable"]) == (6, 5, 1, 0)
    assert [(r["reason"], r["run_ids"]) for r in docker["reasons"]] == [
        ("copy 1 exited with code 1", ["cpusuite-docker-2c-r2"])]  # no log reason: run.json's
    vm = _cell(summary, "cpusuite", "vm")
    assert (vm["runs"], vm["unavailable"]) == (1, 1) and "no usable KVM" in vm["reasons"][0]["reason"]
    assert (summary["runs"], summary["ok"], summary["failed"], summary["unavailable"]) == (55, 53, 1, 1)
    assert summary["answer"] and summary["problems"] == []
    assert [(n["payload"], n["mode"]) for n in summary["no_number"]] == [("cpusuite", "vm")]
    assert summary["no_number"][0]["why"].startswith("unavailable: no usable KVM")


def test_payload_without_a_valid_bare_metal_run_is_no_answer_with_the_logs_reason(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite", "startup"))
    for path in paths:
        if "/cpusuite/bare/" in str(path):
            _edit(path, lambda d: d.update(records=[], log_reasons=[VE_REASON],
                                           run={**d["run"], "status": "failed", "reason": "copy 0: exit code 1"}))
    summary = _summary(paths, tmp_path / "tables")
    assert not summary["answer"]
    assert summary["problems"] == [
        "cpusuite: no valid bare-metal run (464.x264 VE: output differs from the recorded answer)"]
    bare = _cell(summary, "cpusuite", "bare")
    assert (bare["ok"], bare["failed"]) == (0, 6)
    assert bare["reasons"][0]["runs"] == 6 and bare["reasons"][0]["source_line"] == 23
    why = {(n["payload"], n["mode"]): n["why"] for n in summary["no_number"]}
    assert why[("cpusuite", "bare")] == ("every run failed: 464.x264 VE: output differs from the recorded "
                                         "answer (6 of 6 runs)")
    assert why[("cpusuite", "docker")] == "no valid bare-metal run to compare with"
    assert ("startup", "docker") not in why  # startup still compares


def test_no_mode_compared_at_all_is_no_answer(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", modes=("bare",), payloads=("cpusuite",),
                                             failed=False, unavailable_vm=False)
    summary = _summary(paths, tmp_path / "tables")
    assert summary["problems"] == ["no mode could be compared with bare metal at all"]


def test_run_that_ran_but_gave_no_headline_number_is_failed_with_why(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite",), failed=False,
                                             unavailable_vm=False)
    target = next(p for p in paths if str(p).endswith("cpusuite/docker/1c/r1.json"))
    other = next(p for p in paths if str(p).endswith("cpusuite/podman/1c/r1.json"))

    def invalidate(reasons):
        def change(doc):
            for record in doc["records"]:
                if record["benchmark"] == "cpusuite" and record["metric"] == "score":
                    record.update(status="invalid", value=None, detail="not valid: 464.x264")
            doc["log_reasons"] = reasons
        return change

    _edit(target, invalidate([VE_REASON]))
    _edit(other, invalidate([]))  # parsed before log_reasons existed
    summary = _summary(paths, tmp_path / "tables")
    docker, podman = _cell(summary, "cpusuite", "docker"), _cell(summary, "cpusuite", "podman")
    assert (docker["ok"], docker["failed"]) == (5, 1)
    assert docker["reasons"][0]["reason"] == VE_REASON["reason"]
    assert podman["reasons"][0]["reason"] == "no valid cpusuite/score in its logs"


def test_terminal_text_has_the_table_the_reasons_and_what_the_exit_status_does(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite",), failed=False)
    for path in paths:
        if "/cpusuite/bare/" in str(path):
            _edit(path, lambda d: d.update(records=[], log_reasons=[VE_REASON],
                                           run={**d["run"], "status": "failed"}))
    summary = _summary(paths, tmp_path / "tables")
    text = render_text(summary)
    lines = text.splitlines()
    assert lines[0].startswith("execbench study summary: 19 runs: 12 ok, 6 failed, 1 unavailable")
    assert "  payload   bare            docker  podman  vm" in lines
    assert "  cpusuite  0 ok, 6 failed  6 ok    6 ok    1 unavailable" in lines
    assert "  failed: 464.x264 VE: output differs from the recorded answer" in lines
    assert "      runs: cpusuite: bare 6" in lines
    assert "      e.g. results/raw/cpusuite/bare/1c/r1/copy0/cpusuite.log:23: VE: output sha256" in text
    assert "NO ANSWER: cpusuite: no valid bare-metal run" in text and "exits non-zero" in text
    assert "the exit status stays 0" in render_text(summary, fail_without_answer=False)


def _script(summary: dict, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    return subprocess.run([sys.executable, "-m", "execbench", "study-summary", str(path),
                           "--out", str(tmp_path / "answer.txt"), *extra], capture_output=True, text=True)


def test_end_of_study_script_fails_without_an_answer_unless_told_not_to(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", modes=("bare",), payloads=("cpusuite",),
                                             failed=False, unavailable_vm=False)
    summary = _summary(paths, tmp_path / "tables")
    failing = _script(summary, tmp_path)
    assert failing.returncode == 1 and "NO ANSWER: no mode could be compared" in failing.stdout
    assert not (tmp_path / "answer.txt").exists()  # so the next invocation prints and fails again
    relaxed = _script(summary, tmp_path, "--no-fail")
    assert relaxed.returncode == 0 and (tmp_path / "answer.txt").read_text() == relaxed.stdout


def test_end_of_study_script_passes_a_study_with_an_answer(tmp_path):
    summary = _summary(synthetic_runs.write_parsed_runs(tmp_path / "parsed"), tmp_path / "tables")
    done = _script(summary, tmp_path)
    assert done.returncode == 0 and "Every payload has a valid bare-metal run" in done.stdout


def test_report_opens_with_the_summary_and_its_answer_names_what_gave_no_number(tmp_path):
    from synthetic_runs import build_all

    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite", "startup"))
    for path in paths:
        if "/cpusuite/bare/" in str(path):
            _edit(path, lambda d: d.update(records=[], log_reasons=[VE_REASON],
                                           run={**d["run"], "status": "failed"}))
    out = build_all(paths, tmp_path / "results")
    html = out["report"]["html"].read_text()
    summary_at, box_at, answer_at = html.index("id='summary'"), html.index('class="noanswer"'), html.index("id='answer'")
    assert answer_at < box_at < summary_at < html.index("id='figures'")  # the first screen says it first
    box = html[box_at:html.index("</p>", box_at)]
    assert "No answer: cpusuite: no valid bare-metal run (464.x264 VE: output differs from the recorded answer)" in box
    glance = html[answer_at:html.index("</section>")]
    assert ("<b>CPU suite (HS06-like)</b>: no number — no valid bare-metal run to compare with"
            in glance[glance.index("<h3>Docker</h3>"):])
    assert ('<td>cpusuite</td><td><span class="cell-bad">0 ok, 6 failed</span></td>'
            '<td><span class="cell-part">5 ok, 1 failed</span></td>') in html
    assert "results/raw/cpusuite/bare/1c/r1/copy0/cpusuite.log:23" in html
    answer = html[html.index("id='answer-detail'"):html.index("<b>Method.</b>")]
    for sentence in ("cpusuite in bare gave no number: every run failed: 464.x264 VE: output differs from the "
                     "recorded answer (6 of 6 runs).",
                     "cpusuite in docker gave no number: no valid bare-metal run to compare with.",
                     "cpusuite in vm gave no number: unavailable: no usable KVM"):
        assert sentence in answer, sentence
    md = out["report"]["md"].read_text()
    assert md.index("## Answer") < md.index("## Study summary") < md.index("## The answer in detail")
    assert "- cpusuite: no valid bare-metal run (464.x264 VE" in md
    assert "| cpusuite | 0 ok, 6 failed | 5 ok, 1 failed |" in md


def test_payload_without_a_headline_counts_runs_with_any_valid_machine_level_number(tmp_path):
    # e.g. ingested KitValidation logs of one step: no payload score, no geometric mean of >= 2 steps
    def run(mode, status, value):
        doc = {"run": {**synthetic_runs._run("kv", mode, 1, 1, status=status), "payload": "kv",
                       "run_id": f"kv-{mode}-1c-r1"},
               "records": [synthetic_runs._rec("kv.AtlasG4_trf", "events_per_s_wall", value, "events/s", True,
                                               "proc_0/out_0.log")] if value else [], "errors": []}
        path = tmp_path / "parsed" / f"kv-{mode}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        return path

    summary = _summary([run("bare", "ok", 0.69), run("docker", "ok", 0.70)], tmp_path / "tables")
    assert _cell(summary, "kv", "bare")["ok"] == 1 and summary["answer"]
    summary = _summary([run("bare", "ok", None), run("docker", "ok", 0.70)], tmp_path / "tables2")
    assert _cell(summary, "kv", "bare")["reasons"][0]["reason"] == "no valid machine-level number in its logs"
