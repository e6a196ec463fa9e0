"""The rebuild-from-raw batch (`python -m execbench parse --raw ... --out X.jsonl`): every run under
results/raw parsed in one process into one JSON Lines file, one run's unexpected failure costing
only that run, and the tables read the batch file like per-run files."""

from __future__ import annotations

import json

from execbench import parse
from execbench.cli import main
from execbench.ingest import ingest
from execbench.parse import raw_fingerprint
from execbench.paths import REPO_ROOT
from execbench.tables import load_parsed_runs

FIXTURE_LOG = REPO_ROOT / "tests" / "fixtures" / "logs" / "stream" / "stream_ok.txt"


def _ingested_stream_runs(tmp_path, n):
    """n raw run dirs as ingest leaves them, each holding a copy of a real STREAM log."""
    rows = ["path,host,mode,payload,copies,repetition,label"]
    for rep in range(1, n + 1):
        source = tmp_path / "archive" / f"stream-{rep}.txt"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(FIXTURE_LOG.read_bytes())
        rows.append(f"{source},wn01,bare,stream,1,{rep},batch-test")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    ingest(tmp_path / "manifest.csv", tmp_path / "results")
    return tmp_path / "results" / "raw"


def test_batch_parses_every_run_and_one_crash_is_recorded_not_fatal(tmp_path, monkeypatch):
    raw = _ingested_stream_runs(tmp_path, 3)
    real = parse.parse_run_dir

    def crash_on_second(run_dir):
        if run_dir.name == "r2":
            raise RuntimeError("simulated parser bug")
        return real(run_dir)

    monkeypatch.setattr(parse, "parse_run_dir", crash_on_second)
    out = tmp_path / "parsed" / "from_raw.jsonl"
    assert main(["parse", "--raw", str(raw), "--out", str(out)]) == 0
    parsed = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["rel_dir"] for p in parsed] == ["stream/bare/1c/r1", "stream/bare/1c/r2", "stream/bare/1c/r3"]
    assert parsed[0]["records"] and parsed[2]["records"] and parsed[0]["errors"] == []
    assert parsed[1]["records"] == []
    assert "internal error: RuntimeError: simulated parser bug" in parsed[1]["errors"][0]["expected"]
    assert parsed[1]["run"]["payload"] == "stream"  # the run's provenance is kept for the report


def test_batch_with_workers_equals_one_process_and_the_tables_read_it(tmp_path):
    raw = _ingested_stream_runs(tmp_path, 5)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    parse.parse_batch(raw, one, jobs=1)
    parse.parse_batch(raw, two, jobs=2)
    assert one.read_text() == two.read_text()
    runs = load_parsed_runs([one])
    assert len(runs.runs) == 5 and runs.unreadable == []
    assert runs.runs[0]["parsed_file"] == f"{one}:1"  # a batch line is named by file and line


def test_batch_excludes_and_ingested_only(tmp_path):
    raw = _ingested_stream_runs(tmp_path, 3)
    measured = raw / "stream" / "docker" / "1c" / "r1"
    measured.mkdir(parents=True)
    (measured / "run.json").write_text("{}")  # a study's run: no ingest.json
    out = tmp_path / "b.jsonl"
    counts = parse.parse_batch(raw, out, ingested_only=True, exclude={"stream/bare/1c/r2"})
    assert counts["runs"] == 2
    assert [json.loads(line)["rel_dir"] for line in out.read_text().splitlines()] == [
        "stream/bare/1c/r1", "stream/bare/1c/r3"]


def test_raw_fingerprint_changes_when_a_run_is_added_or_rewritten(tmp_path):
    raw = _ingested_stream_runs(tmp_path, 2)
    first = raw_fingerprint(raw)
    assert raw_fingerprint(raw) == first
    run_json = raw / "stream" / "bare" / "1c" / "r1" / "run.json"
    run_json.write_text(run_json.read_text() + " ")
    second = raw_fingerprint(raw)
    assert second != first
    (raw / ".incomplete" / "stream" / "bare" / "1c" / "r9").mkdir(parents=True)
    (raw / ".incomplete" / "stream" / "bare" / "1c" / "r9" / "run.json").write_text("{}")
    assert raw_fingerprint(raw) == second  # interrupted attempts are not runs


def test_a_batch_line_that_cannot_be_read_costs_only_that_run(tmp_path):
    raw = _ingested_stream_runs(tmp_path, 2)
    out = tmp_path / "b.jsonl"
    parse.parse_batch(raw, out)
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")
    runs = load_parsed_runs([out])
    assert len(runs.runs) == 2 and [u["path"] for u in runs.unreadable] == [f"{out}:2"]
