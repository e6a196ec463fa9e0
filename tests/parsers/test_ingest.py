"""Ingest of existing logs through a CSV manifest: copies with checksums, originals untouched,
one clear error per bad row, everything else ingested and parseable by the normal parse stage."""

import hashlib
import json
import shutil

import pytest

from execbench.errors import ParseError
from execbench.ingest import check_ingested_run, ingest, manifest_rel_dirs, mode_kind, read_manifest
from execbench.parse import parse_run_dir

from _parser_helpers import FIXTURES


def _state(root):
    """sha256 and mtime of every file under root (the originals must not change)."""
    return {
        str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def site(tmp_path):
    """A site's log archive (copied from the fixtures) and a manifest with good and bad rows."""
    archive = tmp_path / "archive"
    shutil.copytree(FIXTURES / "spec_cpu2006" / "hs06_valid_2copies", archive / "hs06-wn01-2015")
    shutil.copytree(FIXTURES / "kv" / "four_instances", archive / "kv-wn01")
    shutil.copy(FIXTURES / "stream" / "stream_ok.txt", archive / "stream-c0.txt")
    shutil.copy(FIXTURES / "stream" / "stream_ok.txt", archive / "stream-c1.txt")
    shutil.copy(FIXTURES / "hepscore" / "hepscore_ok.json", archive / "hepscore.json")
    shutil.copy(FIXTURES / "fio" / "fio_ok.json", archive / "fio.json")
    (archive / "empty.txt").write_bytes(b"")
    (archive / "garbage.bin").write_bytes(bytes(range(256)) * 8)
    txt = (FIXTURES / "spec_cpu2006" / "CINT2006.004.ref.txt").read_text()
    (archive / "CINT2006.009.ref.txt").write_text(txt[: len(txt) // 3])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,host,mode,payload,copies,repetition,label,format,copy\n"
        "archive/hs06-wn01-2015,wn01,bare,hs06,2,1,racf-2015,,\n"  # 2
        "archive/kv-wn01,wn01,docker,kv,4,1,racf-2015,kitvalidation,\n"  # 3
        "archive/stream-c0.txt,wn01,docker,stream,2,1,racf-2015,,0\n"  # 4
        "archive/stream-c1.txt,wn01,docker,stream,2,1,racf-2015,stream,1\n"  # 5
        "archive/hepscore.json,wn01,kvm,hepscore,1,1,racf-2015,,\n"  # 6
        "archive/missing-dir,wn01,bare,hs06,2,2,racf-2015,,\n"  # 7 points nowhere
        "archive/stream-c1.txt,wn01,docker,stream,2,1,racf-2015,,1\n"  # 8 copy twice
        "archive/fio.json,wn01,bare,fio,1,1,racf-2015,stream,\n"  # 9 wrong format
        "archive/empty.txt,wn01,bare,stream,1,2,racf-2015,stream,\n"  # 10 empty
        "archive/garbage.bin,wn01,bare,stream,1,3,racf-2015,,\n"  # 11 binary
        "archive/CINT2006.009.ref.txt,wn01,bare,spec,1,1,racf-2015,spec-cpu2006,\n"  # 12 truncated
        "archive/fio.json,wn01,bare,fio,x,1,racf-2015,,\n"
    )  # 13 bad copies
    return tmp_path, archive, manifest


def test_ingest_good_and_bad_rows(site):
    tmp_path, archive, manifest = site
    before = _state(archive)
    results = tmp_path / "results"
    summary = ingest(manifest, results)
    assert _state(archive) == before  # originals untouched: same bytes, same mtimes

    skipped = json.loads((results / "ingest" / "skipped.json").read_text())["skipped"]
    by_line = {}
    for item in skipped:
        by_line.setdefault(item.get("manifest_line", item.get("line")), []).append(item)
    assert sorted(by_line) == [7, 8, 9, 10, 11, 12, 13]
    assert all(len(v) == 1 for v in by_line.values())  # one clear error per bad row
    assert "points nowhere" in by_line[7][0]["expected"] and by_line[7][0]["line"] == 7
    assert "present twice" in by_line[8][0]["expected"]
    assert "'stream' format" in by_line[9][0]["expected"] and "'fio'" in by_line[9][0]["expected"]
    assert by_line[10][0]["path"].endswith("empty.txt") and "non-empty" in by_line[10][0]["expected"]
    assert by_line[11][0]["path"].endswith("garbage.bin") and "binary" in by_line[11][0]["expected"]
    trunc = by_line[12][0]
    assert trunc["path"].endswith("CINT2006.009.ref.txt") and trunc["line"] and "truncated" in trunc["expected"]
    assert "copies" in by_line[13][0]["expected"]

    written = {run["rel_dir"]: run for run in summary["ingested"]}
    assert sorted(written) == sorted(manifest_rel_dirs(manifest))
    # the row pointing nowhere was the only input of hs06/bare/2c/r2: that run is failed, not missing
    assert written["hs06/bare/2c/r2"]["status"] == "failed"
    assert written["stream/docker/2c/r1"] == {"rel_dir": "stream/docker/2c/r1", "status": "ok", "inputs": 2}

    run_dir = results / "raw" / "hs06" / "bare" / "2c" / "r1"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["ingested"] is True and run["status"] == "ok" and run["host"]["hostname"] == "wn01"
    assert run["mode_kind"] == "bare" and run["format"] == "ingested" and run["label"] == "racf-2015"
    assert json.loads((results / "raw/hepscore/kvm/1c/r1/run.json").read_text())["mode_kind"] == "vm"
    provenance = json.loads((run_dir / "ingest.json").read_text())
    files = provenance["inputs"][0]["files"]
    assert len(files) == 8  # 4 txt reports + CPU2006.001-003.log + lock.CPU2006
    for entry in files:
        copied = run_dir / entry["path"]
        assert hashlib.sha256(copied.read_bytes()).hexdigest() == entry["sha256"]
        assert before[entry["source"]][0] == entry["sha256"]


def test_ingested_runs_take_the_normal_parse_path(site):
    tmp_path, _, manifest = site
    results = tmp_path / "results"
    ingest(manifest, results)
    hs06 = parse_run_dir(results / "raw" / "hs06" / "bare" / "2c" / "r1")
    assert hs06["errors"] == []
    machine = [r for r in hs06["records"] if r["benchmark"] == "HS06" and r["metric"] == "score" and r["copy"] is None]
    assert len(machine) == 1 and machine[0]["value"] == pytest.approx(29.459, abs=1e-3)
    stream = parse_run_dir(results / "raw" / "stream" / "docker" / "2c" / "r1")
    triad = {r["copy"]: r for r in stream["records"] if r["benchmark"] == "triad"}
    # copies 0 and 1 both 16900.2 MB/s -> machine 2 x 16900.2 = 33800.4
    assert triad[0]["value"] == 16900.2 and triad[1]["value"] == 16900.2
    assert triad[None]["value"] == pytest.approx(33800.4) and triad[None]["status"] == "ok"
    kv = parse_run_dir(results / "raw" / "kv" / "docker" / "4c" / "r1")
    wall = [r for r in kv["records"] if r["metric"] == "events_per_s_wall" and r["copy"] is None]
    assert wall[0]["value"] == pytest.approx(2.3) and wall[0]["status"] == "invalid"
    from execbench.parsers import detect

    assert detect(results / "raw" / "kv" / "docker" / "4c" / "r1").format == "ingested"
    failed_run = parse_run_dir(results / "raw" / "hs06" / "bare" / "2c" / "r2")
    assert failed_run["records"] == []


def test_reingest_is_idempotent_and_never_overwrites_a_measured_run(site):
    tmp_path, _, manifest = site
    results = tmp_path / "results"
    ingest(manifest, results)
    raw = results / "raw" / "stream" / "docker" / "2c" / "r1"
    copied = _state(raw / "copy0")
    again = ingest(manifest, results)
    assert _state(raw / "copy0") == copied
    # the 4 runs with a usable input are ok again; runs whose every input was bad stay failed
    assert sorted(r["rel_dir"] for r in again["ingested"] if r["status"] == "ok") == [
        "hepscore/kvm/1c/r1",
        "hs06/bare/2c/r1",
        "kv/docker/4c/r1",
        "stream/docker/2c/r1",
    ]
    measured = results / "raw" / "hepscore" / "kvm" / "1c" / "r1"
    (measured / "ingest.json").unlink()  # now it looks like a run the workflow measured
    third = ingest(manifest, results)
    assert any("never overwrites" in s["expected"] for s in third["skipped"])


def test_unusable_manifest_is_one_skipped_entry_and_the_report_goes_on(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host\nx,y\n")
    with pytest.raises(ParseError) as err:
        read_manifest(manifest)
    assert err.value.line == 1 and "missing" in err.value.expected
    summary = ingest(manifest, tmp_path / "results")  # never raises: the report lists it
    (entry,) = summary["skipped"]
    assert entry["path"] == str(manifest) and entry["line"] == 1 and "missing" in entry["expected"]
    assert json.loads((tmp_path / "results" / "ingest" / "skipped.json").read_text())["skipped"] == [entry]


def test_mode_kind_from_mode_name():
    assert [mode_kind(m) for m in ("docker-2015", "KVM", "bare_metal", "podman", "singularity")] == [
        "docker",
        "vm",
        "bare",
        "podman",
        "singularity",
    ]


def test_cli_reports_skipped_rows(site):
    import subprocess
    import sys

    tmp_path, _, manifest = site
    proc = subprocess.run(
        [sys.executable, "-m", "execbench", "ingest", "--manifest", str(manifest), "--results", str(tmp_path / "results")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert f"skipped {manifest}:7: expected an existing file or directory" in proc.stderr
    assert "ingested hs06/bare/2c/r1: 1 input(s), status ok" in proc.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "execbench",
            "ingest",
            "--manifest",
            str(tmp_path / "nope.csv"),
            "--results",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
    )
    # a manifest that cannot be read is reported, not fatal: the rest of the report goes on
    assert bad.returncode == 0 and "nope.csv" in bad.stderr


def test_one_host_and_label_per_run(tmp_path):
    from execbench.ingest import read_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,host,mode,payload,copies,repetition,label,copy\n"
        "a.txt,wn01,bare,stream,2,1,x,0\n"
        "b.txt,wn01,bare,stream,2,1,y,1\n"
    )
    rows, errors = read_manifest(manifest)
    assert [r.line for r in rows] == [2]
    assert errors[0]["line"] == 3 and "('wn01', 'x')" in errors[0]["expected"]
    # two hosts: two runs (each host's own r1, laid out per host), not one run of mixed copies
    manifest.write_text(
        "path,host,mode,payload,copies,repetition,label,copy\n"
        "a.txt,wn01,bare,stream,2,1,x,0\n"
        "b.txt,wn02,bare,stream,2,1,x,1\n"
    )
    rows, errors = read_manifest(manifest)
    assert [r.rel_dir for r in rows] == ["stream/bare/2c/r1@wn01", "stream/bare/2c/r1@wn02"] and errors == []


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CELL = st.one_of(
    st.sampled_from(
        ["", "0", "1", "2", "x", "-1", "wn01", "docker", "stream", "fio", "hs06", "ingested", "../x", "a,b", '"q"',
         "99999999999999999999999", "1-3", "3-1", "1-99999999", "4097", "d$(touch X)", "..", "wn 01", "\x00",
         "x" * 5000, "\r", "\ufeffpath"]
    ),
    st.text(max_size=12),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELL, min_size=7, max_size=10), max_size=6), header_ok=st.booleans())
def test_random_manifests_never_crash(tmp_path, rows, header_ok):
    import csv
    import io
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(
            ["path", "host", "mode", "payload", "copies", "repetition", "label", "format", "copy"]
            if header_ok
            else ["path", "host"]
        )
        for row in rows:
            writer.writerow(row)
        manifest = f"{tmp}/m.csv"
        with open(manifest, "w") as fh:
            fh.write(buf.getvalue())
        try:
            summary = ingest(manifest, f"{tmp}/results")
        except ParseError as exc:
            assert exc.path.endswith("m.csv")
            return
        for item in summary["skipped"]:
            assert item["path"] and item["expected"]


def test_input_containing_the_results_dir_is_refused(tmp_path):
    shutil.copy(FIXTURES / "stream" / "stream_ok.txt", tmp_path / "stream.txt")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\n.,wn01,bare,stream,1,1,x\n")
    summary = ingest(manifest, tmp_path / "results")
    assert "outside the results directory" in summary["skipped"][0]["expected"]


def test_example_manifest_ingests_every_fixture_kind(tmp_path):
    # tests/fixtures/logs/manifest-example.csv: 11 rows, the last points nowhere
    summary = ingest(FIXTURES / "manifest-example.csv", tmp_path / "results")
    status = {run["rel_dir"]: run["status"] for run in summary["ingested"]}
    assert len(status) == 11 and status["hs06/vm/2c/r1"] == "failed"
    assert sum(s == "ok" for s in status.values()) == 10
    assert [item["line"] for item in summary["skipped"]] == [12]
    for rel_dir in status:
        result = parse_run_dir(tmp_path / "results" / "raw" / rel_dir)
        assert result["errors"] == []
        json.dumps(result)  # parsed runs are written as JSON


def test_ingested_run_json_matches_its_schema_and_a_broken_one_is_caught(tmp_path):
    summary = ingest(FIXTURES / "manifest-example.csv", tmp_path / "results")
    runs = [json.loads((tmp_path / "results" / "raw" / r["rel_dir"] / "run.json").read_text()) for r in summary["ingested"]]
    for run in runs:
        check_ingested_run(run)  # raises on a mismatch
    broken = dict(runs[0], copies=0)
    with pytest.raises(ValueError, match="key 'copies'"):
        check_ingested_run(broken)


def test_the_same_run_from_two_hosts_is_two_runs_laid_out_per_host(tmp_path):
    """A multi-node archive numbers repetitions per node: wn01's and wn02's r1 are both kept,
    under r1@<host> as a fan-out study's, never one in place of the other."""
    for name in ("sA.txt", "sB.txt"):
        shutil.copy(FIXTURES / "stream" / "stream58_serial.txt", tmp_path / name)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,host,mode,payload,copies,repetition,label\n"
                        "sA.txt,wn01,bare,stream,1,1,site\n"
                        "sB.txt,wn02,bare,stream,1,1,site\n"
                        "sA.txt,wn01,bare,db12,1,1,site\n")  # the same file twice: still refused
    rows, errors = read_manifest(manifest)
    assert [r.rel_dir for r in rows] == ["stream/bare/1c/r1@wn01", "stream/bare/1c/r1@wn02"]
    assert len(errors) == 1 and "each input once" in errors[0]["expected"]
    result = ingest(manifest, tmp_path / "results")
    for host in ("wn01", "wn02"):
        run = json.loads((tmp_path / "results" / "raw" / "stream" / "bare" / "1c" / f"r1@{host}" / "run.json").read_text())
        assert run["run_id"] == f"ingest-stream-bare-1c-r1@{host}" and run["host"]["hostname"] == host
    assert result is not None
