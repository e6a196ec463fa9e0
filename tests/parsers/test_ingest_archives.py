"""Ingest of archives as sites keep them: whole result directories as one row (issue 14 item 3),
and a manifest bounded and typed (issue 13 item 5, R8): one bad row never costs the others."""

from __future__ import annotations

import json
import shutil

import pytest

from execbench.ingest import MAX_COPIES, MAX_REPETITION, ingest, read_manifest
from execbench.parse import parse_run_dir
from execbench.parsers.layouts import identify

from _parser_helpers import FIXTURES

HEADER = "path,host,mode,payload,copies,repetition,label,format,copy\n"


def _records(results, rel_dir):
    parsed = parse_run_dir(results / "raw" / rel_dir)
    assert parsed["errors"] == []
    return parsed["records"]


def _one(records, benchmark, metric, copy=None):
    found = [r for r in records if r["benchmark"] == benchmark and r["metric"] == metric and r["copy"] == copy]
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- result directories
def test_suite_run_directory_is_read_through_its_report(tmp_path):
    run = tmp_path / "run_2025-01-10_0900"
    shutil.copytree(FIXTURES / "suite" / "run_2025-01-10_0900", run)
    layout = identify(run)
    assert layout.kind == "hep-benchmark-suite run directory"
    assert [p.path.name for p in layout.parts] == ["bmkrun_report.json"]  # the report holds the result files
    (tmp_path / "m.csv").write_text(HEADER + "run_2025-01-10_0900,wn042,bare,suite,8,1,suite-v3,,\n")
    summary = ingest(tmp_path / "m.csv", tmp_path / "results")
    assert summary["skipped"] == []
    records = _records(tmp_path / "results", "suite/bare/8c/r1")
    assert _one(records, "HEPscore23", "score")["value"] == 1069.4915
    assert _one(records, "HS06", "score")["value"] == 29.45
    assert len([r for r in records if r["metric"] == "score"]) == 2  # each number once, not once per file
    entry = json.loads((tmp_path / "results/raw/suite/bare/8c/r1/ingest.json").read_text())["inputs"][0]
    assert entry["layout"] == "hep-benchmark-suite run directory"
    assert entry["parts"] == [{"dest": "machine/run_2025-01-10_0900/bmkrun_report.json", "format": "hepscore"}]
    assert len(entry["files"]) == 5  # every file of the directory is copied and hashed


def test_suite_run_directory_without_report_is_read_through_its_result_files(tmp_path):
    shutil.copytree(FIXTURES / "suite" / "run_2025-01-11_0900", tmp_path / "run")
    (tmp_path / "m.csv").write_text(HEADER + "run,wn042,docker,suite,8,1,suite-v3,,\n")
    ingest(tmp_path / "m.csv", tmp_path / "results")
    records = _records(tmp_path / "results", "suite/docker/8c/r1")
    assert _one(records, "HEPscore23", "score")["value"] == 1069.4915  # HEPSCORE/hepscore_result.json
    assert _one(records, "HS06", "score")["value"] == 29.45  # HS06/hs06_result.json
    assert _one(records, "DB12", "est_hs06")["value"] == pytest.approx(20.8154054)  # db12_result.json


def test_a_directory_of_several_suite_runs_is_refused_naming_them(tmp_path):
    shutil.copytree(FIXTURES / "suite", tmp_path / "suite")
    (tmp_path / "m.csv").write_text(HEADER + "suite,wn042,bare,suite,8,1,x,,\n")
    (bad,) = ingest(tmp_path / "m.csv", tmp_path / "results")["skipped"]
    assert "holds 2" in bad["expected"] and "run_2025-01-10_0900" in bad["expected"]


def test_hs06_result_directory_copies_must_match_the_manifest(tmp_path):
    shutil.copytree(FIXTURES / "spec_cpu2006" / "hs06_valid_2copies", tmp_path / "spec2k6-wn01-20150310-101500")
    (tmp_path / "m.csv").write_text(HEADER + "spec2k6-wn01-20150310-101500,wn01,bare,hs06,2,1,x,,\n"
                                             "spec2k6-wn01-20150310-101500/..//spec2k6-wn01-20150310-101500,wn01,bare,"
                                             "hs06,4,1,x,,\n")
    summary = ingest(tmp_path / "m.csv", tmp_path / "results")
    # the second row is the same directory (refused as an input given twice)
    assert [s["manifest_line"] for s in summary["skipped"]] == [3]
    assert _one(_records(tmp_path / "results", "hs06/bare/2c/r1"), "HS06", "score")["value"] == pytest.approx(
        29.459, abs=1e-3)
    (tmp_path / "m2.csv").write_text(HEADER + "spec2k6-wn01-20150310-101500,wn01,bare,hs06,4,1,x,,\n")
    (bad,) = ingest(tmp_path / "m2.csv", tmp_path / "results2")["skipped"]
    assert "holding the manifest's 4 copies, it holds 2" in bad["expected"] and "result set 002" in bad["expected"]


def test_kitvalidation_work_directory_of_sw_mgr(tmp_path):
    # sw-mgr --tthreads 1: kvtest_<id>/KV.thr.1/data/<step>/<log>
    step = tmp_path / "kvwork" / "kvtest_1234" / "KV.thr.1" / "data" / "SimulHITS-17.8.0.9"
    step.mkdir(parents=True)
    shutil.copy(FIXTURES / "kv" / "one_instance" / "proc_1" / "out_1.log", step / "KitValidation-SimulHITS-17.8.0.9.log")
    layout = identify(tmp_path / "kvwork")
    assert (layout.kind, layout.copies, layout.contents) == ("KitValidation work directory", 1, ["instance 1"])
    (tmp_path / "m.csv").write_text(HEADER + "kvwork,wn01,bare,kv,1,1,x,,\n")
    assert ingest(tmp_path / "m.csv", tmp_path / "results")["skipped"] == []
    records = _records(tmp_path / "results", "kv/bare/1c/r1")
    assert [r for r in records if r["metric"] == "events_per_s_wall" and r["status"] == "ok"]


def test_unknown_directory_names_the_known_layouts(tmp_path):
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "notes.txt").write_text("nothing here\n")
    (tmp_path / "m.csv").write_text(HEADER + "misc,wn01,bare,x,1,1,x,,\n")
    (bad,) = ingest(tmp_path / "m.csv", tmp_path / "results")["skipped"]
    assert "directory layouts" in bad["expected"]


# --------------------------------------------------------------------------- manifest bounds (R8)
def test_r8_huge_repetition_is_refused_and_the_other_rows_ingested(tmp_path):
    shutil.copy(FIXTURES / "db12" / "db12_single.txt", tmp_path / "a.txt")
    shutil.copy(FIXTURES / "db12" / "db12_multiple.txt", tmp_path / "b.txt")
    (tmp_path / "m.csv").write_text(HEADER + "a.txt,wn01,bare,db12,1,99999999999999999999999,x,,\n"
                                             "b.txt,wn01,bare,db12,4,1,x,,\n")
    summary = ingest(tmp_path / "m.csv", tmp_path / "results")
    (bad,) = summary["skipped"]
    assert bad["line"] == 2 and f"1..{MAX_REPETITION}" in bad["expected"] and "99999999999" in bad["expected"]
    assert [r["rel_dir"] for r in summary["ingested"]] == ["db12/bare/4c/r1"]


@pytest.mark.parametrize("cells, words", [
    ("x.txt,wn01,bare,db12,0,1,x,,", "'copies' as an integer in 1..4096"),
    (f"x.txt,wn01,bare,db12,{MAX_COPIES + 1},1,x,,", "'copies' as an integer in 1..4096"),
    ("x.txt,wn01,bare,db12,2,1,x,,2", "'copy' below 'copies'"),
    ("x.txt,wn01,bare,db12,2,3-1,x,,", "a range 'first-last'"),
    ("x.txt,wn01,bare,db12,2,-1,x,,", "'repetition' as an integer"),
    ("x.txt,wn01,..,db12,1,1,x,,", "'mode' of 1-64 letters"),
    ("x.txt,wn01,d$(touch X),db12,1,1,x,,", "'mode' of 1-64 letters"),
    ("x.txt,wn 01,bare,db12,1,1,x,,", "'host' of 1-64 letters"),
    ("x.txt,wn01,bare,db12,1,1,label with spaces,,", "'label' of 1-64 letters"),
    ("x.txt,wn01,bare,../db12,1,1,x,,", "'payload' of 1-64 letters"),
    ("x.txt,wn01,bare,db12,1,1," + "y" * 65 + ",,", "'label' of 1-64 letters"),
])
def test_manifest_values_are_bounded_and_typed(tmp_path, cells, words):
    (tmp_path / "m.csv").write_text(HEADER + cells + "\n")
    rows, errors = read_manifest(tmp_path / "m.csv")
    assert rows == [] and len(errors) == 1
    assert errors[0]["line"] == 2 and words in errors[0]["expected"], errors[0]


def test_manifest_with_bom_and_crlf_is_read(tmp_path):
    shutil.copy(FIXTURES / "db12" / "db12_single.txt", tmp_path / "a.txt")
    (tmp_path / "m.csv").write_bytes(b"\xef\xbb\xbf" + (HEADER + "a.txt,wn01,bare,db12,1,1,x,,\n").replace(
        "\n", "\r\n").encode())
    summary = ingest(tmp_path / "m.csv", tmp_path / "results")
    assert summary["skipped"] == [] and [r["rel_dir"] for r in summary["ingested"]] == ["db12/bare/1c/r1"]


def test_manifest_not_utf8_is_one_error_naming_the_line(tmp_path):
    (tmp_path / "m.csv").write_bytes(HEADER.encode() + "a.txt,wn01,bare,db12,1,1,caf\xe9,,\n".encode("latin-1"))
    (bad,) = ingest(tmp_path / "m.csv", tmp_path / "results")["skipped"]
    assert bad["line"] == 2 and "UTF-8" in bad["expected"] and "0xe9" in bad["expected"]


def test_manifest_nul_byte_and_overlong_field(tmp_path):
    shutil.copy(FIXTURES / "db12" / "db12_single.txt", tmp_path / "a.txt")
    (tmp_path / "m.csv").write_text(HEADER + "a.txt,wn01,bare,db12,1,1,x,,\n" + "b" * 5000 + ",wn01,bare,db12,1,2,x,,\n"
                                    + "c.txt,wn01,bare,db12,1,3,x\x00,,\n")
    rows, errors = read_manifest(tmp_path / "m.csv")
    assert [r.line for r in rows] == [2]
    assert [e["line"] for e in errors] == [3, 4]
    assert "at most 4096 characters" in errors[0]["expected"] and "'label' of 1-64" in errors[1]["expected"]


def test_missing_manifest_is_reported_not_raised(tmp_path):
    summary = ingest(tmp_path / "nope.csv", tmp_path / "results")
    (bad,) = summary["skipped"]
    assert bad["path"].endswith("nope.csv") and "readable CSV manifest" in bad["expected"]
    assert (tmp_path / "results" / "ingest" / "skipped.json").is_file()


def test_failed_run_reason_names_file_without_a_none_line(tmp_path):
    # cases logs.md item 8: a reason printed 'path:None: expected ...' where the line is unknown
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "m.csv").write_text(HEADER + "empty.txt,wn01,bare,db12,1,1,x,,\n")
    ingest(tmp_path / "m.csv", tmp_path / "results")
    run = json.loads((tmp_path / "results" / "raw" / "db12" / "bare" / "1c" / "r1" / "run.json").read_text())
    assert run["status"] == "failed" and ":None" not in run["reason"]
    assert f"{tmp_path / 'empty.txt'}: expected a non-empty file" in run["reason"]


def test_r7_negated_fio_log_never_reaches_a_ratio(tmp_path):
    # issue 13 R7: fio_ok.json with bw, bw_bytes, iops, runtime negated, ingested as bare beside the
    # original as docker, made relative.csv say docker runs at -100 % of bare metal
    from execbench.tables import write_tables

    data = json.loads((FIXTURES / "fio" / "fio_ok.json").read_text().split("\n", 1)[1])
    for job in data["jobs"]:
        for direction in ("read", "write", "trim"):
            for key in ("bw", "bw_bytes", "iops", "runtime"):
                job[direction][key] = -job[direction][key]
    (tmp_path / "negated.json").write_text(json.dumps(data, indent=1))
    shutil.copy(FIXTURES / "fio" / "fio_ok.json", tmp_path / "fio.json")
    (tmp_path / "m.csv").write_text(HEADER + "negated.json,wn01,bare,fio,1,1,x,,\nfio.json,wn01,docker,fio,1,1,x,,\n")
    summary = ingest(tmp_path / "m.csv", tmp_path / "results")
    (bad,) = summary["skipped"]
    assert bad["path"].endswith("negated.json") and bad["line"] is not None and bad["manifest_line"] == 2
    parsed = []
    for rel in ("fio/bare/1c/r1", "fio/docker/1c/r1"):
        out = tmp_path / "parsed" / f"{rel.replace('/', '-')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(parse_run_dir(tmp_path / "results" / "raw" / rel)))
        parsed.append(out)
    files = write_tables(parsed, tmp_path / "tables", tmp_path / "results" / "ingest" / "skipped.json")
    relative = files["relative_csv"].read_text().splitlines()
    assert len(relative) == 1  # the header only: no mode is compared with a negative bare metal
    assert json.loads(files["excluded"].read_text())["cells_without_baseline"]


def test_a_study_s_own_run_directories_are_never_filled_by_ingest(tmp_path):
    shutil.copy(FIXTURES / "db12" / "db12_single_loop.txt", tmp_path / "loop.txt")  # 3 runs: r1..r3
    (tmp_path / "m.csv").write_text(HEADER + "loop.txt,wn01,bare,db12,1,1,x,,\n")
    summary = ingest(tmp_path / "m.csv", tmp_path / "results", reserved=frozenset({"db12/bare/1c/r3"}))
    (bad,) = summary["skipped"]
    assert "db12/bare/1c/r3 is one of its runs" in bad["expected"] and summary["ingested"] == []
