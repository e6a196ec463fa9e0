"""HEP-Benchmark-Suite report and HEPscore results (both generations)."""

import json

import pytest

from execbench.errors import ParseError
from execbench.parsers import detect, get

from _parser_helpers import FIXTURES, all_valid, pick

HS = FIXTURES / "hepscore"
parser = get("hepscore")


def test_hepscore_ok_v1_generation():
    records = parser.parse(HS / "hepscore_ok.json")
    assert all_valid(records)
    score = pick(records, "HEPscore23", "score")
    assert (score.value, score.status, score.unit) == (1069.4915, "ok", "HEPscore")
    assert score.source_line == 42  # the top-level "score" key
    gen = pick(records, "atlas-gen_sherpa-ma.gen", "events_per_s")
    assert gen.value == 41.0 and gen.extra["copies"] == 8  # wl-scores: the median run (40, 42, 41 -> 41)
    # 41.0 / 38.58 = 1.062727; 5.0 / 4.814 = 1.038637
    assert pick(records, "atlas-gen_sherpa-ma.gen", "ratio_to_reference").value == pytest.approx(1.062727, abs=1e-6)
    assert pick(records, "cms-reco-run3-ma.reco", "ratio_to_reference").value == pytest.approx(1.038637, abs=1e-6)
    reps = [r.value for r in records if r.benchmark == "cms-reco-run3-ma.reco" and r.metric == "events_per_s_rep"]
    assert reps == [5.0, 4.9, 5.1]
    assert [r.source_line for r in records if r.metric == "events_per_s_rep"][:3] == [8, 10, 12]  # run0..run2


def test_hepscore_failed_is_failed_not_zero():
    records = parser.parse(HS / "hepscore_failed.json")
    score = pick(records, "HEPscore23", "score")
    assert score.status == "failed" and score.value is None
    assert "cms-reco-run3-ma" in score.detail and "score=-1" in score.detail
    reco = pick(records, "cms-reco-run3-ma.reco", "events_per_s")
    assert reco.status == "failed" and reco.value is None and "run1: no report" in reco.detail
    assert pick(records, "atlas-gen_sherpa-ma.gen", "events_per_s").status == "ok"


def test_hepscore19_old_generation_takes_median_of_runs_and_ref_scores():
    # report.run0 only: gen-sim 0.0243, ref 0.0238 -> ratio 1.0210084; score 10.210084 (= ratio x scaling 10)
    records = parser.parse(HS / "hepscore19_v0.json")
    assert pick(records, "cms-gen-sim-bmk.gen-sim", "events_per_s").value == 0.0243
    assert pick(records, "cms-gen-sim-bmk.gen-sim", "ratio_to_reference").value == pytest.approx(1.0210084, abs=1e-7)
    score = pick(records, "HEPscore19", "score")
    assert score.value == pytest.approx(10.210084, abs=1e-6) and score.extra["generation"] == "v0"


def test_v2_nested_report_score_is_accepted(tmp_path):
    data = json.loads((HS / "hepscore_ok.json").read_text())
    data["report"] = {"score": data.pop("score"), "status": data.pop("status")}
    path = tmp_path / "hepscore_result.json"
    path.write_text(json.dumps(data))
    assert pick(parser.parse(path), "HEPscore23", "score").value == 1069.4915


def test_suite_report_sections_and_host_metadata():
    path = HS / "bmkrun_report.json"
    assert detect(path).format == "hepscore"
    records = parser.parse(path)
    assert all_valid(records)
    host = pick(records, "host", "logical_cpus")
    assert host.value == 8.0 and host.extra["HW.CPU.CPU_Model"].startswith("AMD EPYC 7302")
    assert host.extra["SW.kernel_version"] == "5.14.0-362.el9.x86_64"
    hs06 = pick(records, "HS06", "score")
    assert hs06.value == 29.45 and hs06.extra["bits"] == 32 and hs06.status == "ok"
    assert pick(records, "450.soplex", "ratio", 1).value == 16.0
    db12 = pick(records, "DB12", "est_hs06")
    assert db12.unit == "est. HS06" and db12.value == pytest.approx(20.8154054)
    assert not [r for r in records if r.metric == "db12"]  # never mixed with DIRAC's calibration
    assert pick(records, "HEPscore23", "score").extra["hostname"] == "wn042.example.org"


def test_not_a_report(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"benchmarks": [1, 2]}')
    with pytest.raises(ParseError):
        parser.parse(path)
