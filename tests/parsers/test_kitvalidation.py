"""ATLAS KitValidation step logs, PerfMon summaries and atlas-kv summary JSON."""

import shutil

import pytest

from execbench.errors import ParseError
from execbench.parsers import detect, get

from _parser_helpers import FIXTURES, all_valid, pick

KV = FIXTURES / "kv"
parser = get("kitvalidation")
STEP = "kv.AtlasG4_trf"


def test_one_instance_uses_the_job_report_log_once():
    # proc_1/out_1.log (transform stdout, ExitCode=0) and proc_1/AtlasG4_trf.log (the Athena log
    # it scanned) describe the same step: one set of records, not two.
    # 'evt': <cpu> 731.313 ms, <real> 1450.667 ms -> 1000/1450.667 = 0.689338 ev/s wall,
    # 1000/731.313 = 1.367404 ev/s cpu
    records = parser.parse(KV / "one_instance")
    assert all_valid(records)
    assert len([r for r in records if r.copy == 0]) == 4
    assert pick(records, STEP, "cpu_per_event", 0).value == 731.313
    assert pick(records, STEP, "events_per_s_wall", 0).value == pytest.approx(0.689338, abs=1e-6)
    assert pick(records, STEP, "events_per_s_cpu", None).value == pytest.approx(1.367404, abs=1e-6)
    rec = pick(records, STEP, "wall_per_event", 0)
    assert rec.source_file.endswith("out_1.log") and rec.source_line == 29
    assert rec.extra["exit_code"] == 0 and rec.extra["step_wall_s"] == 451  # 00 hrs 07 mins 31 secs


def test_four_instances_one_failed_step_is_excluded_and_reported():
    # instances 1, 2, 4: <real> 1000, 1250, 2000 ms -> 1.0 + 0.8 + 0.5 = 2.3 ev/s wall
    # <cpu> 700, 800, 500 ms -> mean 666.667 ms/event; instance 3: ExitCode=65, no 'evt' block
    records = parser.parse(KV / "four_instances")
    failed = [r for r in records if r.copy == 2]
    assert failed and all(r.status == "failed" and r.value is None for r in failed)
    assert "ExitCode=65" in failed[0].detail
    wall = pick(records, STEP, "events_per_s_wall", None)
    assert wall.value == pytest.approx(2.3) and wall.status == "invalid"
    assert wall.extra["excluded"] == ["3"] and "instance 3" in wall.detail
    cpu = pick(records, STEP, "cpu_per_event", None)
    assert cpu.value == pytest.approx(666.6667, abs=1e-4) and cpu.status == "ok" and cpu.extra["instances_ok"] == 3
    assert not [r for r in records if r.value == 0]


def test_single_step_log_file():
    records = parser.parse(KV / "four_instances" / "proc_2" / "out_2.log")
    assert pick(records, STEP, "events_per_s_wall").value == pytest.approx(0.8)


def test_tags_matched_not_offsets(tmp_path):
    # later releases insert <cpu_user>/<cpu_sys> after <cpu>: values must still be found
    text = (KV / "four_instances" / "proc_1" / "out_1.log").read_text()
    text = text.replace(
        "Py:PerfMonSvc        INFO <real>:   (   1000.000",
        "Py:PerfMonSvc        INFO <cpu_user>: (    650.000 +/-      1.000 ) ms\n"
        "Py:PerfMonSvc        INFO <cpu_sys>:  (     50.000 +/-      1.000 ) ms\n"
        "Py:PerfMonSvc        INFO <real>:   (   1000.000",
    )
    path = tmp_path / "out_1.log"
    path.write_text(text)
    records = parser.parse(path)
    assert pick(records, STEP, "wall_per_event").value == 1000.0
    assert pick(records, STEP, "cpu_per_event").value == 700.0


def test_perfmon_summary_of_the_cern_wrapper():
    # KV.thr.1 cpu 600 / real 900 ms, KV.thr.2 cpu 650 / real 1100 ms
    # wall throughput 1000/900 + 1000/1100 = 1.111111 + 0.909091 = 2.020202 ev/s
    records = parser.parse(KV / "PerfMon_summary_17-10-03_12:28:00.out")
    step = "kv.SimulHITS-17.8.0.9"
    assert pick(records, step, "events_per_s_wall", None).value == pytest.approx(2.020202, abs=1e-6)
    assert pick(records, step, "cpu_per_event", 1).value == 650.0


@pytest.mark.parametrize(
    "path, value, status",
    [
        ("atlas-kv_summary.json", 0.5795, "ok"),  # generation 1: flat
        ("report_gen/atlas-kv_summary.json", 2.6042, "ok"),  # generation 2: run_info/report
        ("new_gen/atlas-kv_summary_new.json", 1.2, "invalid"),  # generation 3: 1 of 2 copies failed
    ],
)
def test_summary_json_three_generations(path, value, status):
    records = parser.parse(KV / path)
    rec = pick(records, "atlas-kv.sim", "events_per_s")
    assert (rec.value, rec.status) == (value, status)
    assert detect(KV / path).format == "kitvalidation"


def test_instance_present_twice(tmp_path):
    run = tmp_path / "kv"
    shutil.copytree(KV / "four_instances", run)
    shutil.copytree(run / "proc_1", run / "proc_01")
    with pytest.raises(ParseError) as err:
        parser.parse(run)
    assert "present twice" in err.value.expected


def test_truncated_step_log_fails_the_step(tmp_path):
    text = (KV / "four_instances" / "proc_1" / "out_1.log").read_text()
    path = tmp_path / "out_1.log"
    path.write_text(text[: text.index("Py:PerfMonSvc        INFO Statistics for 'evt'")])
    records = parser.parse(path)
    assert all(r.status == "failed" for r in records)
    assert "truncated" in records[0].detail or "no PerfMonSvc" in records[0].detail


def test_sw_mgr_layout_names_steps_from_the_data_dir(tmp_path):
    # sw-mgr --tthreads 2: kvtest_<id>/KV.thr.<i>/data/<dir>/<logfile>, one dir per KV test
    for thr, proc in ((1, 1), (2, 2)):
        step_dir = tmp_path / "kvtest_1234" / f"KV.thr.{thr}" / "data" / "SimulHITS-17.8.0.9"
        step_dir.mkdir(parents=True)
        source = KV / "four_instances" / f"proc_{proc}" / f"out_{proc}.log"
        shutil.copy(source, step_dir / "KitValidation-SimulHITS-17.8.0.9.log")
    records = parser.parse(tmp_path)
    # instances 1 and 2: <real> 1000 and 1250 ms -> 1.0 + 0.8 = 1.8 ev/s wall
    wall = pick(records, "kv.SimulHITS-17.8.0.9", "events_per_s_wall", None)
    assert wall.value == pytest.approx(1.8) and wall.status == "ok"
    assert pick(records, "kv.SimulHITS-17.8.0.9", "cpu_per_event", 1).extra["instance"] == "2"
