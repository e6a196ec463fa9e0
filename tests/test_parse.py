"""`python -m execbench parse` in batch mode (the from_raw rebuild): many runs in one process,
and one run's unexpected failure costs only that run."""

from __future__ import annotations

import json

from execbench import parse
from execbench.cli import main
from execbench.ingest import ingest
from execbench.paths import REPO_ROOT

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
    summary = ingest(tmp_path / "manifest.csv", tmp_path / "results")
    return [tmp_path / "results" / "raw" / r["rel_dir"] / "run.json" for r in summary["ingested"]]


def test_batch_parses_every_run_and_one_crash_is_recorded_not_fatal(tmp_path, monkeypatch):
    runs = _ingested_stream_runs(tmp_path, 3)
    assert [p.parent.name for p in runs] == ["r1", "r2", "r3"]
    outs = [tmp_path / "parsed" / f"r{i}.json" for i in (1, 2, 3)]
    real = parse.parse_run_dir

    def crash_on_second(run_dir):
        if run_dir.name == "r2":
            raise RuntimeError("simulated parser bug")
        return real(run_dir)

    monkeypatch.setattr(parse, "parse_run_dir", crash_on_second)
    assert main(["parse", "--runs", *map(str, runs), "--outputs", *map(str, outs)]) == 0
    parsed = [json.loads(p.read_text()) for p in outs]
    assert parsed[0]["records"] and parsed[2]["records"] and parsed[0]["errors"] == []
    assert parsed[1]["records"] == []
    assert "internal error: RuntimeError: simulated parser bug" in parsed[1]["errors"][0]["expected"]
    assert parsed[1]["run"]["payload"] == "stream"  # the run's provenance is kept for the report


def test_batch_needs_one_output_per_run(tmp_path, capsys):
    assert main(["parse", "--runs", "a/run.json", "b/run.json", "--outputs", str(tmp_path / "a.json")]) == 2
    assert "one output per run" in capsys.readouterr().err
