"""The audit across a study (execbench.findings): audit.json / audit.csv, the runs an ABI finding
marks, the first-screen lines, the difference between two hosts (and `audit-diff`). Built from the
two real audit runs in tests/fixtures/logs/audit/, parsed, then placed on two hosts."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from execbench import findings, parse
from execbench.cli import main

AUDIT_RUNS = Path(__file__).parent / "fixtures" / "logs" / "audit"


def parsed_doc(tmp_path: Path, fixture: str, host: str, mode: str) -> Path:
    doc = parse.parse_run_dir(AUDIT_RUNS / fixture)
    doc["run"]["host"]["hostname"], doc["run"]["mode"] = host, mode
    doc["run"]["run_id"] = f"audit-{mode}-1c-r1@{host}"
    out = tmp_path / f"{host}-{mode}-audit.json"
    out.write_text(json.dumps(doc))
    return out


def other_run(tmp_path: Path, host: str, mode: str, payload: str = "db12") -> Path:
    out = tmp_path / f"{host}-{mode}-{payload}.json"
    out.write_text(json.dumps({"run": {"run_id": f"{payload}-{mode}-2c-r1@{host}", "payload": payload,
                                       "mode": mode, "copies": 2, "host": {"hostname": host}, "status": "ok"},
                               "records": []}))
    return out


@pytest.fixture
def two_hosts(tmp_path):
    """wn001: docker on ext4 (nothing blocking); wn002: bare on XFS inode64 (32-bit EOVERFLOW)."""
    return [parsed_doc(tmp_path, "docker-ext4", "wn001", "docker"),
            parsed_doc(tmp_path, "bare-xfs-inode64", "wn002", "bare"),
            other_run(tmp_path, "wn001", "docker"), other_run(tmp_path, "wn002", "bare"),
            other_run(tmp_path, "wn002", "docker")]


def test_audit_tables_per_host_with_the_runs_an_abi_finding_marks(two_hosts, tmp_path):
    (tmp_path / "tables-out").mkdir()
    files = findings.write_audit_tables(two_hosts, tmp_path / "tables-out")
    table = json.loads(files["audit_json"].read_text())
    assert table["format"] == findings.AUDIT_FORMAT and [h["host"] for h in table["hosts"]] == ["wn001", "wn002"]
    wn001, wn002 = table["hosts"]
    assert wn001["counts"]["blocking"] == 0 and wn001["abi"] == {"broken": [], "affected_runs": {}}
    assert [(b["mode"], b["filesystem"], b["fstype"]) for b in wn002["abi"]["broken"]] == [("bare", "run_dir", "xfs")]
    # every other run of bare on wn002 used the same filesystems; docker there is not marked
    assert wn002["abi"]["affected_runs"] == {"bare": ["db12-bare-2c-r1@wn002"]}
    assert [f["item"] for f in wn002["blocking"]] == ["abi.run_dir"]
    with open(files["audit_csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == findings.COLUMNS and len(rows) == sum(len(h["findings"]) for h in table["hosts"])


def test_a_batch_json_lines_file_gives_the_same_table_as_one_file_per_run(two_hosts, tmp_path):
    # the parse stage writes batches (from_raw, ingest; one runs.jsonl per study with the chain runner)
    batch = tmp_path / "runs.jsonl"
    batch.write_text("".join(json.dumps(json.loads(p.read_text())) + "\n" for p in two_hosts) + "{not json\n")
    assert findings.audit_table([batch]) == findings.audit_table(two_hosts)
    assert findings.audit_table([batch])["hosts"][1]["abi"]["affected_runs"] == {"bare": ["db12-bare-2c-r1@wn002"]}


def test_the_first_screen_names_the_host_with_a_blocking_finding(two_hosts):
    lines = findings.blocking_lines(findings.audit_table(two_hosts))
    assert len(lines) == 1 and lines[0].startswith("Host wn002: 1 blocking audit finding.")
    assert "(bare): 32-bit software breaks here: stat()/readdir() fail with EOVERFLOW" in lines[0]


def test_host_items_count_once_per_host_however_many_modes_audited_it(tmp_path):
    docs = [parsed_doc(tmp_path, "docker-ext4", "wn001", mode) for mode in ("docker", "docker2")]
    [entry] = findings.audit_table(docs)["hosts"]
    host_findings = [f for f in entry["findings"] if f["scope"] == "host"]
    assert len(host_findings) == 2 * len(findings.host_items(entry))
    assert all(item["modes"] == ["docker", "docker2"] for item in findings.host_items(entry))
    per_mode = [f for f in entry["findings"] if f["scope"] != "host"]
    assert sum(entry["counts"].values()) == len(findings.host_items(entry)) + len(per_mode)


def test_two_hosts_differ_where_their_verdicts_do(two_hosts):
    table = findings.audit_table(two_hosts)
    rows = {(r["scope"], r["mode"], r["item"]): r for r in findings.diff_hosts(table, "wn001", table, "wn002")}
    abi = rows[("abi", "bare", "abi.run_dir")]  # only wn002 audited bare
    assert (abi["verdict_a"], abi["verdict_b"]) == (None, "blocking")
    assert ("host", "", "host.container_starters") not in rows  # the same posture on both
    assert findings.diff_hosts(table, "wn001", table, "wn001") == []
    with pytest.raises(KeyError, match="wn003"):
        findings.diff_hosts(table, "wn001", table, "wn003")


def test_audit_diff_command(two_hosts, tmp_path, capsys):
    (tmp_path / "t").mkdir()
    findings.write_audit_tables(two_hosts, tmp_path / "t")
    path = str(tmp_path / "t" / "audit.json")
    assert main(["audit-diff", path, "--hosts", "wn001", "wn002"]) == 0
    out = capsys.readouterr().out
    assert "abi.run_dir" not in out and "32-bit ABI: run directory" in out and "blocking" in out
    assert main(["audit-diff", path, "--hosts", "wn001", "wn002", "--json"]) == 0
    assert any(r["item"] == "abi.run_dir" for r in json.loads(capsys.readouterr().out))
    assert main(["audit-diff", path]) == 2 and "--hosts" in capsys.readouterr().err
    assert main(["audit-diff", path, "--hosts", "wn001", "nowhere"]) == 2
    assert main(["audit-diff", str(tmp_path / "missing.json")]) == 2


def test_no_audit_in_the_study_gives_an_empty_table(tmp_path):
    table = findings.audit_table([other_run(tmp_path, "wn001", "bare")])
    assert table["hosts"] == [] and findings.blocking_lines(table) == []


def _report(paths: list[Path], root: Path) -> Path:
    from execbench.figures import write_figures
    from execbench.report import write_report
    from execbench.tables import write_tables

    write_tables(paths, root / "tables")
    write_figures(root / "tables", root / "report" / "figures")
    return Path(write_report(root / "tables", root / "report" / "figures", root / "report")["html"])


def test_the_report_names_the_blocking_host_first_and_shows_its_audit(two_hosts, tmp_path):
    html = _report(two_hosts, tmp_path).read_text()
    first_screen, rest = html.split("<details id='summary'>", 1)  # the first screen, then the folded sections
    assert 'class="audit-blocking"' in first_screen and "Host wn002: 1 blocking audit finding." in first_screen
    assert "wn001" not in first_screen  # nothing blocking there
    section = rest[rest.index("<details id='audit'>"):rest.index("<details id='provenance'>")]
    assert "Breaks on the run dir (xfs, inode64) in bare" in section
    assert "<h3>Host wn001</h3><p>0 blocking" in section and "<h3>Host wn002</h3><p>1 blocking" in section
    md = (tmp_path / "report" / "report.md").read_text()
    assert md.index("**Host audit: blocking**") < md.index("## Answer") < md.index("## Host audit")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_check_report_screenshots_the_audit_section_alone(two_hosts, tmp_path, capsys):
    from execbench import browser

    index = _report(two_hosts, tmp_path)
    whole = browser.check_report(index, tmp_path / "whole.png")
    part = browser.section_screenshot(index, "audit", tmp_path / "audit.png")
    assert part["found"] and part["screenshot"] and (tmp_path / "audit.png").read_bytes()[:4] == b"\x89PNG"
    # the section alone and unfolded (the whole page shows it folded): more than its heading,
    # no other folded section left
    assert part["folded_sections"] == {"audit": True}
    assert 300 < part["height"] <= browser.SCREENSHOT_MAX_PX and whole["page_height"] > 300
    missing = browser.section_screenshot(index, "no-such-section", tmp_path / "none.png")
    assert not missing["found"] and not (tmp_path / "none.png").exists()
    assert main(["check-report", str(index), "--section", "audit", "--section", "no-such-section"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert [s["found"] for s in shown["sections"]] == [True, False]
    assert (index.parent / "index.audit.png").is_file()
    assert "section 'no-such-section': no element with that id" in shown["problems"]
