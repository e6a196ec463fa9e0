"""The payloads' own log formats (cpusuite, hepchain) and the machine-level sums, on hand-made
logs whose expected numbers are computed by hand in the comments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from execbench import parsers, payloads
from execbench.errors import ParseError
from execbench.records import validate_record

RULE = "=" * 77


def cpusuite_log(copy: int, rows: list[tuple], score: str, status: str, failures: list[str] = ()) -> str:
    head = "Benchmark        Lang  Iter    Ref(s)    Run(s)     Ratio    CPU(s)  Status"
    lines = [f"execbench cpusuite 1 size=smoke copy={copy} iterations=1 started=2026-11-29T04:00:00+00:00",
             "# open SPEC CPU2006-like suite; ratio = reference seconds / run seconds; host=test", head, "-" * 77]
    for name, lang, ref, run, ratio, cpu, code in rows:
        lines.append(f"{name:<16} {lang:<4}     1 {ref:>9} {run:>9} {ratio:>9} {cpu:>9}  {code}")
    lines += list(failures)
    lines.append(RULE)
    for name, lang, ref, run, ratio, cpu, code in rows:
        lines.append(f"{name:<16} {lang:<4}     * {ref:>9} {run:>9} {ratio:>9} {cpu:>9}  {code}")
    lines += [f"Score (geometric mean of {len(rows)} ratios): {score}", f"Status: {status}",
              "ended=2026-11-29T04:00:09+00:00"]
    return "\n".join(lines) + "\n"


def write_run(tmp_path: Path, name: str, texts: list[str], copies: int | None = None) -> Path:
    run = tmp_path / "run"
    for i, text in enumerate(texts):
        (run / f"copy{i}").mkdir(parents=True)
        (run / f"copy{i}" / name).write_text(text)
    (run / "run.json").write_text(json.dumps({"copies": copies or len(texts)}))
    return run


def by_key(records):
    return {(r.benchmark, r.metric, r.copy): r for r in records}


# copy 0: perl 3.0/1.5 = 2.0, povray 2.0/2.5 = 0.8 -> geomean sqrt(2.0 * 0.8) = sqrt(1.6) = 1.2649
# copy 1: perl 3.0/2.0 = 1.5, povray 2.0/2.0 = 1.0 -> geomean sqrt(1.5) = 1.2247
COPY0 = cpusuite_log(0, [("400.perl", "C", "3.000", "1.500", "2.0000", "1.490", "S"),
                         ("453.povray", "C++", "2.000", "2.500", "0.8000", "2.480", "S")], "1.2649", "valid")
COPY1 = cpusuite_log(1, [("400.perl", "C", "3.000", "2.000", "1.5000", "1.990", "S"),
                         ("453.povray", "C++", "2.000", "2.000", "1.0000", "1.990", "S")], "1.2247", "valid")


def test_cpusuite_records_per_copy_and_machine_sums(tmp_path):
    records = payloads.get("cpusuite").parse(write_run(tmp_path, "cpusuite.log", [COPY0, COPY1]))
    for r in records:
        validate_record(r)
    got = by_key(records)
    assert got[("400.perl", "ratio", 0)].value == 2.0
    assert got[("453.povray", "run_time", 1)].value == 2.0
    assert got[("453.povray", "ratio", 0)].extra["language"] == "C++"
    assert got[("cpusuite", "score", 0)].value == pytest.approx(1.2649)
    # machine level, HS06 rule: sum over copies. score 1.2649 + 1.2247 = 2.4896
    assert got[("cpusuite", "score", None)].value == pytest.approx(2.4896)
    # per benchmark: perl 2.0 + 1.5 = 3.5; povray 0.8 + 1.0 = 1.8
    assert got[("400.perl", "ratio", None)].value == pytest.approx(3.5)
    assert got[("453.povray", "ratio", None)].value == pytest.approx(1.8)
    # copy 0's selected perl row is line 8: header, comment, heading, rule, 2 iteration rows, '=' rule, row
    assert got[("400.perl", "ratio", 0)].source_line == 8
    assert ("400.perl", "run_time", None) not in got  # times are not summed


def test_cpusuite_wrong_output_fails_the_benchmark_and_invalidates_the_scores(tmp_path):
    bad = cpusuite_log(1, [("400.perl", "C", "3.000", "2.000", "1.5000", "1.990", "S"),
                           ("453.povray", "C++", "2.000", "2.000", "--", "1.990", "VE")], "--", "invalid",
                       ["! 453.povray iteration 1: VE: output sha256 0123... != expected 4567..."])
    got = by_key(payloads.get("cpusuite").parse(write_run(tmp_path, "cpusuite.log", [COPY0, bad])))
    povray = got[("453.povray", "ratio", 1)]
    assert (povray.status, povray.value) == ("failed", None)
    assert "VE: output sha256" in povray.detail
    assert got[("cpusuite", "score", 1)].status == "invalid" and got[("cpusuite", "score", 1)].value is None
    assert "453.povray" in got[("cpusuite", "score", 1)].detail
    assert got[("cpusuite", "score", None)].value is None  # no partial machine score
    assert got[("453.povray", "ratio", None)].status == "failed"
    assert got[("400.perl", "ratio", None)].value == pytest.approx(3.5)  # 2.0 + 1.5, still fine


def test_cpusuite_missing_copy_log_is_a_failed_record_naming_the_exit_code(tmp_path):
    run = write_run(tmp_path, "cpusuite.log", [COPY0], copies=2)
    (run / "copy1").mkdir()
    (run / "copy1" / "launch.json").write_text(json.dumps({"copy": 1, "exit_code": 137, "timed_out": False}))
    got = by_key(payloads.get("cpusuite").parse(run))
    assert got[("cpusuite", "score", 1)].status == "failed"
    assert "exit code 137" in got[("cpusuite", "score", 1)].detail
    assert got[("cpusuite", "score", None)].value is None


@pytest.mark.parametrize("mangle, line", [
    (lambda t: t.replace("execbench cpusuite 1", "execbench cpusuite 7"), 1),
    (lambda t: t.replace("400.perl         C        *", "400.perl         C        2"), 8),
    (lambda t: t.replace("Score (geometric mean of 2 ratios): 1.2649\n", ""), None),
    (lambda t: t.replace("Score (geometric mean of 2 ratios)", "Score (geometric mean of 3 ratios)"), 10),
])
def test_cpusuite_malformed_log_raises_parse_error_with_line(tmp_path, mangle, line):
    path = tmp_path / "cpusuite.log"
    path.write_text(mangle(COPY0))
    with pytest.raises(ParseError) as err:
        parsers.get("cpusuite").parse(path)
    assert err.value.path == str(path)
    if line is not None:
        assert err.value.line == line


def test_cpusuite_driver_report_round_trips_through_the_parser(tmp_path, monkeypatch):
    """The in-image writer and the parser agree (the writer is run on made-up timings)."""
    import importlib.util

    from execbench.paths import INIMAGE

    spec = importlib.util.spec_from_file_location("cpusuite_driver", INIMAGE / "cpusuite.py")
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    monkeypatch.chdir(tmp_path)
    args = type("Args", (), {"size": "smoke", "copy": "3", "iterations": 3})()

    def it(seconds, status="S", reason=""):
        return {"status": status, "seconds": seconds, "cpu_seconds": seconds, "reason": reason}

    # perl: 3 iterations of 1.0, 3.0, 2.0 s -> median 2.0 s -> ratio 4.0 / 2.0 = 2.0
    # gcc: 0.5, 0.4, 0.6 s -> median 0.5 s -> ratio 1.0 / 0.5 = 2.0 ; score sqrt(2 * 2) = 2.0
    results = {"400.perl": [it(1.0), it(3.0), it(2.0)], "403.gcc": [it(0.5), it(0.4), it(0.6)]}
    driver.write_reports(args, list(results), results, {"400.perl": 4.0, "403.gcc": 1.0}, "s", "e")
    got = by_key(parsers.get("cpusuite").parse(tmp_path / "cpusuite.log"))
    assert got[("400.perl", "run_time", 3)].value == 2.0
    assert got[("400.perl", "ratio", 3)].value == 2.0
    assert got[("cpusuite", "score", 3)].value == 2.0
    # lower median of an even count, as SPEC: 4 iterations 1, 4, 2, 3 -> sorted 1 2 3 4 -> 2
    assert driver.lower_median_index([1.0, 4.0, 2.0, 3.0]) == 2


HEPCHAIN_OK = """\
execbench hepchain 1 size=smoke copy=0 events=150 seed=2015 started=2026-11-29T03:48:06+00:00 host=h
step=gen events=150 wall_s=2.5000 cpu_s=2.4000 events_per_s=60.0000 status=ok output=EVNT.root tool="pythia8mc 8.317.2"
step=sim events=150 wall_s=0.7500 cpu_s=0.7400 events_per_s=200.0000 status=ok output=HITS.root tool="fastsim: Gaussian smearing (no Geant4)"
step=digi events=150 wall_s=0.2500 cpu_s=0.2400 events_per_s=600.0000 status=ok output=RDO.root tool="digitization-like"
step=reco events=150 wall_s=0.5000 cpu_s=0.4900 events_per_s=300.0000 status=ok output=ESD.root tool="fastjet 3.5.2.0 anti-kt R=0.4"
chain events=150 wall_s=4.0000 cpu_s=3.8700 events_per_s=37.5000 status=ok
reco jets=543 mean_leading_jet_pt=128.5020 digest=afd1
ended=2026-11-29T03:48:10+00:00
"""
HEPCHAIN_BAD = """\
execbench hepchain 1 size=smoke copy=1 events=150 seed=2015 started=2026-11-29T03:48:06+00:00 host=h
step=gen events=150 wall_s=3.0000 cpu_s=2.9000 events_per_s=50.0000 status=ok output=EVNT.root tool="pythia8mc 8.317.2"
step=sim events=0 wall_s=-- cpu_s=-- events_per_s=-- status=failed output=-- tool="fastsim" reason="OSError: EVNT.root: bad header"
chain events=150 wall_s=-- cpu_s=-- events_per_s=-- status=failed
! step sim failed: OSError: EVNT.root: bad header
ended=2026-11-29T03:48:10+00:00
"""


def test_hepchain_records_and_summed_throughput(tmp_path):
    records = payloads.get("hepchain").parse(write_run(tmp_path, "hepchain.log", [HEPCHAIN_OK, HEPCHAIN_OK]))
    for r in records:
        validate_record(r)
    got = by_key(records)
    assert got[("hepchain.gen", "events_per_s", 1)].value == 60.0
    assert got[("hepchain.gen", "cpu_time", 0)].value == 2.4
    assert got[("hepchain", "wall_time", 0)].value == 4.0
    assert got[("hepchain.sim", "events_per_s", 0)].extra["tool"].startswith("fastsim: Gaussian smearing")
    # machine: 37.5 + 37.5 = 75.0 events/s; gen 60 + 60 = 120
    assert got[("hepchain", "events_per_s", None)].value == 75.0
    assert got[("hepchain.gen", "events_per_s", None)].value == 120.0


def test_hepchain_failed_step_is_failed_not_zero(tmp_path):
    got = by_key(payloads.get("hepchain").parse(write_run(tmp_path, "hepchain.log", [HEPCHAIN_OK, HEPCHAIN_BAD])))
    sim = got[("hepchain.sim", "events_per_s", 1)]
    assert (sim.status, sim.value) == ("failed", None) and "bad header" in sim.detail
    chain = got[("hepchain", "events_per_s", 1)]
    assert (chain.status, chain.value) == ("failed", None) and "step sim failed" in chain.detail
    assert got[("hepchain", "events_per_s", None)].value is None
    assert got[("hepchain.gen", "events_per_s", None)].value == 110.0  # 60 + 50


def test_hepchain_ok_step_without_number_is_a_parse_error(tmp_path):
    path = tmp_path / "hepchain.log"
    path.write_text(HEPCHAIN_OK.replace("events_per_s=200.0000", "events_per_s=--"))
    with pytest.raises(ParseError) as err:
        parsers.get("hepchain").parse(path)
    assert err.value.line == 3


def payload_settings(name: str, **given) -> dict:
    """A payload's settings as the config gives them to it (validated, defaults filled in)."""
    from execbench.config import load_config
    from execbench.paths import REPO_ROOT
    import yaml

    raw = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    raw["payloads"] = {name: given}
    return load_config(raw)["payloads"][name]


def test_argv_shapes():
    assert payloads.get("cpusuite").argv(payload_settings("cpusuite", size="standard")) == [
        "python3", "/opt/execbench/cpusuite.py", "--size", "standard", "--iterations", "1", "--copy", "{copy}"]
    assert payloads.get("hepchain").argv(payload_settings("hepchain"))[0] == "/opt/execbench/venv/bin/python"
    assert payloads.get("stream").argv(payload_settings("stream")) == ["/usr/local/bin/execbench-stream", "20000000", "10"]
    assert payloads.get("stream").argv(payload_settings("stream", array_size=30_000_000))[1] == "30000000"
    assert "--buffered" in payloads.get("fio").argv(payload_settings("fio", buffered=True))
    assert "--buffered" not in payloads.get("fio").argv(payload_settings("fio"))
    from execbench.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        payload_settings("db12", size="huge")
    assert err.value.key == "payloads.db12.size"
    assert math.isclose(payloads.get("db12").timeout_s(payload_settings("db12", timeout_s=12)), 12.0)
    assert math.isclose(payloads.get("db12").timeout_s(payload_settings("db12", size="standard")), 3600.0)


# --- DB12's fastest-slice side log ---------------------------------------------------------------

def db12_slices(cpu: list[float], draws: list[int] | None = None, **over) -> str:
    data = {"format": "execbench-db12-slices/1", "size": "smoke", "iterations": 1,
            "calibration_per_draw": 250.0 / 12_500_000, "clock": "process_time", "clock_resolution_s": 1e-9,
            "slice_draws": draws or [50_000] * len(cpu), "slice_cpu_s": cpu}
    data.update(over)
    return json.dumps(data)


def test_db12_fastest_slice_per_copy_and_summed(tmp_path):
    run = write_run(tmp_path, "db12.json", ["20.0", "25.0"])
    # copy 0: fastest full slice 50,000 draws in 0.04 s -> 250/12.5e6 * 50,000/0.04 = 25.0 DB12;
    # the 0.01 s slice holds only 10,000 draws (a short last slice) and does not count
    (run / "copy0" / "db12-slices.json").write_text(db12_slices([0.05, 0.04, 0.01], [50_000, 50_000, 10_000]))
    # copy 1: 50,000 / 0.032 s -> 31.25 DB12
    (run / "copy1" / "db12-slices.json").write_text(db12_slices([0.032, 0.08]))
    got = {(r.metric, r.copy): r.value for r in payloads.get("db12").parse(run)}
    assert got[("db12", None)] == pytest.approx(45.0)  # DB12 itself unchanged: the sum of the floats
    assert got[("db12_fastest_slice", 0)] == pytest.approx(25.0)
    assert got[("db12_fastest_slice", 1)] == pytest.approx(31.25)
    assert got[("db12_fastest_slice", None)] == pytest.approx(56.25)


def test_db12_without_side_log_has_no_fastest_slice(tmp_path):
    run = write_run(tmp_path, "db12.json", ["20.0"])  # DIRAC's own output, or a run from before
    metrics = {r.metric for r in payloads.get("db12").parse(run)}
    assert metrics == {"db12"}


@pytest.mark.parametrize("text, key", [
    ("not json", "a JSON object"),
    (db12_slices([0.04], format="other/1"), '"format"'),
    (db12_slices([0.04, 0.05], [50_000]), '"slice_cpu_s" and "slice_draws"'),
    (db12_slices([0.0, -1.0]), "at least one positive CPU time"),
    (db12_slices([0.04], calibration_per_draw=0), '"calibration_per_draw"'),
])
def test_db12_malformed_side_log_names_file_and_key(tmp_path, text, key):
    run = write_run(tmp_path, "db12.json", ["20.0"])
    (run / "copy0" / "db12-slices.json").write_text(text)
    with pytest.raises(ParseError) as err:
        payloads.get("db12").parse(run)
    assert "db12-slices.json" in str(err.value) and key in str(err.value)

def test_fio_records_carry_the_file_system_each_copy_measured(tmp_path):
    """scratch.json (fio_run.py, from inside the environment) -> every record's extra: a VM copy on
    its virtio scratch disk says ext4 where a copy on the 9p share says 9p."""
    fixture = (Path(__file__).parents[1] / "fixtures" / "logs" / "fio" / "fio_ok.json").read_text()
    run = write_run(tmp_path, "fio.json", [fixture])
    (run / "copy0" / "scratch.json").write_text(json.dumps({
        "directory": "/execbench/scratch/copy0", "fstype": "ext4", "source": "/dev/vdb",
        "mount_point": "/execbench/scratch", "options": "rw,nosuid,nodev,relatime", "statfs_magic": "0xef53",
        "statfs_type": "ext2/ext3/ext4", "device": "254:16"}))
    records = payloads.get("fio").parse(run)
    assert records and {(r.extra["scratch_fstype"], r.extra.get("scratch_statfs")) for r in records} >= {
        ("ext4", "ext2/ext3/ext4")}
    assert {r.extra["scratch_mount"] for r in records if r.copy == 0} == {"/execbench/scratch"}


def test_fio_job_puts_its_data_in_the_scratch_dir_it_is_given():
    import sys

    from execbench.paths import INIMAGE

    sys.path.insert(0, str(INIMAGE))
    try:
        import fio_run
    finally:
        sys.path.remove(str(INIMAGE))
    job = fio_run.job_file("smoke", direct=True, directory="/execbench/scratch/copy0").splitlines()
    assert "directory=/execbench/scratch/copy0" in job and "direct=1" in job
    assert "directory=." in fio_run.job_file("smoke", direct=True)
    assert r"directory=/a\:b" in fio_run.job_file("smoke", direct=False, directory="/a:b").splitlines()
    assert fio_run.file_bytes("smoke") == 16 << 20
