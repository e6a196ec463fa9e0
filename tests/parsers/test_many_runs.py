"""Several runs in one file (issue 14 item 2): N runs give N measurements, never the first silently.

The property: concatenating k valid runs of any supported text format gives k runs, each with
exactly the records the single run gives (same benchmarks, values and statuses, in order). Then
ingest maps such a file onto k repetitions (case logs.md item 3)."""

from __future__ import annotations

import json
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execbench.errors import ParseError
from execbench.ingest import ingest
from execbench.parse import parse_run_dir
from execbench.parsers import get
from execbench.parsers._common import records_of_run, runs_in_file

from _parser_helpers import FIXTURES

# (format, one valid run): every text format a parser reads, one fixture per variant
TEXT_RUNS = [
    ("stream", "stream/stream_ok.txt"),
    ("stream", "stream/stream_failed.txt"),
    ("stream", "stream/stream59_omp4.txt"),
    ("stream", "stream/stream58_serial.txt"),
    ("stream", "stream/stream_f_5.6.txt"),
    ("stream", "stream/stream_gbs_heading.txt"),
    ("stream", "stream/hpccoutf.txt"),
    ("fio", "fio/fio_text.txt"),
    ("fio", "fio/fio_v2.txt"),
    ("fio", "fio/fio_2.0.8.txt"),
    ("fio", "fio/fio_terse_v3.txt"),
    ("fio", "fio/fio_terse_v5.txt"),
    ("fio", "fio/fio_ok.json"),
    ("fio", "fio/fio_2.2.10.json"),
    ("fio", "fio/fio_jsonplus.json"),
    ("fio", "fio/fio_json_normal.txt"),
    ("fio", "fio/fio_terse_json.txt"),
    ("db12", "db12/db12_single.txt"),
    ("db12", "db12/db12_multiple.txt"),
    ("db12", "db12/db12_legacy_wholenode.txt"),
    ("spec-cpu2006", "spec_cpu2006/CINT2006.004.ref.txt"),
    ("spec-cpu2006", "spec_cpu2006/CFP2006.001.ref.txt"),
    ("spec-cpu2006", "spec_cpu2006/statuses/CFP2006.011.ref.txt"),
    ("spec-cpu2006", "spec_cpu2006/CFP2006.001.ref.csv"),
    ("spec-cpu2006", "spec_cpu2006/CINT2006.005.ref.rsf"),
    ("spec-cpu2006", "spec_cpu2006/statuses/CINT2006.012.ref.rsf"),
    ("spec-cpu2006", "spec_cpu2006/CPU2006.004.log"),
    ("kitvalidation", "kv/one_instance/proc_1/out_1.log"),
    ("kitvalidation", "kv/PerfMon_summary_17-10-03_12:28:00.out"),
    ("cpusuite", "execbench/cpusuite.log"),
    ("hepchain", "execbench/hepchain.log"),
]


def _key(records):
    return [(r.benchmark, r.metric, r.value, r.status, r.copy, r.unit) for r in records]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(TEXT_RUNS), k=st.integers(min_value=1, max_value=5), gap=st.sampled_from(["", "\n"]))
def test_k_concatenated_runs_give_k_runs_each_equal_to_the_single_run(case, k, gap):
    fmt, rel = case
    parser = get(fmt)
    single = parser.parse(FIXTURES / rel)
    assert runs_in_file(single) == 1
    text = (FIXTURES / rel).read_text()
    text += "" if text.endswith("\n") else "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/{(FIXTURES / rel).name}"
        with open(path, "w") as fh:
            fh.write(gap.join([text] * k))
        records = parser.parse(path)
    assert runs_in_file(records) == k
    for j in range(1, k + 1):
        assert _key(records_of_run(records, j)) == _key(single), f"run {j} of {k}"
    if k > 1:  # every record says which run of the file it is
        assert sorted({r.extra["run_in_file"] for r in records}) == list(range(1, k + 1))


def test_case_stream_two_runs_are_two_repetitions(tmp_path):
    # cases logs.md item 3: `cat stream_ok.txt stream_ok.txt`, the second copy rate 11000.0
    records = get("stream").parse(FIXTURES / "stream" / "stream_two_runs.txt")
    assert runs_in_file(records) == 2
    assert [r.value for r in records if r.benchmark == "copy"] == [22066.0, 11000.0]
    assert [r.source_line for r in records if r.benchmark == "copy"] == [27, 60]
    shutil.copy(FIXTURES / "stream" / "stream_two_runs.txt", tmp_path / "loop.log")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\nloop.log,wn01,bare,stream,1,1,loop\n")
    summary = ingest(manifest, tmp_path / "results")
    assert summary["skipped"] == []
    assert [r["rel_dir"] for r in summary["ingested"]] == ["stream/bare/1c/r1", "stream/bare/1c/r2"]
    copies = {}
    for rep in (1, 2):
        parsed = parse_run_dir(tmp_path / "results" / "raw" / "stream" / "bare" / "1c" / f"r{rep}")
        assert parsed["errors"] == []
        copies[rep] = [r["value"] for r in parsed["records"] if r["benchmark"] == "copy"]
    assert copies == {1: [22066.0], 2: [11000.0]}
    # the file is copied once; the second run names it, and which run of it it is
    second = json.loads((tmp_path / "results/raw/stream/bare/1c/r2/run.json").read_text())["ingest"]["inputs"][0]
    assert (second["dest"], second["run_in_file"], second["runs_in_file"]) == ("../r1/machine/loop.log", 2, 2)
    assert not (tmp_path / "results/raw/stream/bare/1c/r2/machine").exists()


def test_a_range_in_the_manifest_must_match_the_runs_found(tmp_path):
    shutil.copy(FIXTURES / "fio" / "fio_two_runs.json", tmp_path / "fio.json")
    shutil.copy(FIXTURES / "db12" / "db12_single_loop.txt", tmp_path / "db12.txt")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\n"
                        "fio.json,wn01,bare,fio,1,4-5,loop\n"  # 2 runs onto r4, r5
                        "db12.txt,wn01,bare,db12,1,1-2,loop\n")  # 3 runs in the file, 2 named
    summary = ingest(manifest, tmp_path / "results")
    assert [r["rel_dir"] for r in summary["ingested"] if r["status"] == "ok"] == ["fio/bare/1c/r4", "fio/bare/1c/r5"]
    (bad,) = [s for s in summary["skipped"] if s.get("manifest_line") == 3]
    assert "2 runs for the manifest's repetitions 1-2, the input holds 3" in bad["expected"]
    assert bad["path"].endswith("db12.txt")


def test_runs_that_would_land_on_another_rows_repetition_are_refused(tmp_path):
    shutil.copy(FIXTURES / "db12" / "db12_single_loop.txt", tmp_path / "loop.txt")
    shutil.copy(FIXTURES / "db12" / "db12_single.txt", tmp_path / "one.txt")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\n"
                        "one.txt,wn01,bare,db12,1,2,x\n"
                        "loop.txt,wn01,bare,db12,1,1,x\n")  # its 3 runs need r1..r3, r2 is line 2's
    summary = ingest(manifest, tmp_path / "results")
    (bad,) = summary["skipped"]
    assert bad["manifest_line"] == 3 and "repetitions 1-3" in bad["expected"] and "line 2" in bad["expected"]
    assert [r["rel_dir"] for r in summary["ingested"]] == ["db12/bare/1c/r2"]


def test_fio_job_repeated_in_two_groups_is_two_runs():
    # the same job stonewalled twice (groupid 0 and 1): 7813 KiB/s and 7031 KiB/s
    records = get("fio").parse(FIXTURES / "fio" / "fio_same_job_two_groups.txt")
    assert runs_in_file(records) == 2
    bw = [(r.extra["run_in_file"], round(r.value, 6)) for r in records if r.metric == "bandwidth"]
    assert bw == [(1, round(7813 / 1024, 6)), (2, round(7031 / 1024, 6))]


def test_one_bad_run_refuses_the_whole_file_naming_the_run(tmp_path):
    text = (FIXTURES / "stream" / "stream_ok.txt").read_text()
    path = tmp_path / "loop.txt"
    path.write_text(text + text.replace("Add:", "Ad:"))
    with pytest.raises(ParseError) as err:
        get("stream").parse(path)
    assert err.value.line == 29 + len(text.splitlines()) and "'Add:' row" in err.value.expected and "run 2 of 2" in err.value.expected


def test_a_many_runs_file_never_writes_into_a_measured_run(tmp_path):
    measured = tmp_path / "results" / "raw" / "db12" / "bare" / "1c" / "r2"
    measured.mkdir(parents=True)
    (measured / "run.json").write_text("{}")  # measured by the workflow: no ingest.json
    shutil.copy(FIXTURES / "db12" / "db12_single_loop.txt", tmp_path / "loop.txt")  # 3 runs: r1..r3
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\nloop.txt,wn01,bare,db12,1,1,x\n")
    summary = ingest(manifest, tmp_path / "results")
    (bad,) = summary["skipped"]
    assert "never overwrites" in bad["expected"] and str(measured) in bad["expected"]
    assert summary["ingested"] == [] and sorted(p.name for p in measured.iterdir()) == ["run.json"]
    assert not (tmp_path / "results" / "raw" / "db12" / "bare" / "1c" / "r1").exists()


def test_a_result_directory_file_holding_two_results_is_refused_not_read_in_part(tmp_path):
    run_dir = tmp_path / "hs06"
    shutil.copytree(FIXTURES / "spec_cpu2006" / "hs06_valid_2copies", run_dir)
    txt = run_dir / "CFP2006.002.ref.txt"
    txt.write_text(txt.read_text() * 2)
    records = get("hs06").parse(run_dir)
    unreadable = [r for r in records if r.metric == "result_file"]
    assert len(unreadable) == 1 and "one SPEC result per file in a result directory, found 2" in unreadable[0].detail
    machine = [r for r in records if r.benchmark == "HS06" and r.metric == "score" and r.copy is None]
    assert machine[0].value is None and machine[0].status != "ok"  # never the first result of the two
