"""Each payload at smoke size runs bare (chroot into the image rootfs) and in a hardened docker
container from the same image, through the real launcher, and parses into ok records; a
corrupted input or a wrong output makes that benchmark fail visibly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import run_payload
from execbench.paths import INIMAGE
from execbench.records import validate_record

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("mode", ["bare", "docker"])
@pytest.mark.parametrize("payload_name", ["cpusuite", "hepchain", "db12", "stream", "fio", "syscost"])
def test_payload_smoke_runs_and_parses(smoke_run, mode, payload_name):
    out, results, payload = smoke_run(mode, payload_name)  # the run test_isa_masking.py takes as native
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in (out / "copy0").glob("*.log")}
    assert [r.exit_code for r in results] == [0], logs
    records = payload.parse(out)
    assert records, "no records"
    for record in records:
        validate_record(record)
    bad = [(r.benchmark, r.metric, r.detail) for r in records if r.status != "ok"]
    assert not bad
    machine = [r for r in records if r.copy is None]
    assert machine and all(r.value > 0 for r in machine)
    if payload_name == "cpusuite":
        assert len({r.benchmark for r in records if r.metric == "ratio"}) == 9
    if payload_name == "db12":  # the side log's fastest slice is at least the total's pace
        by = {(r.metric, r.copy): r for r in records}
        assert by[("db12_fastest_slice", 0)].extra["slices"] == 25
        assert by[("db12_fastest_slice", None)].value >= by[("db12", None)].value
    if payload_name == "fio":  # data files are gone, fio's JSON stays
        assert not list((out / "copy0").glob("execbench-fio.*"))
        assert (out / "copy0" / "fio.json").is_file()
        # the file system measured: the run dir's, bind-mounted (a VM's would be 9p)
        import sys
        sys.path.insert(0, str(INIMAGE))
        from fio_run import scratch_filesystem
        host_fstype = scratch_filesystem(str(out / "copy0"))["fstype"]
        assert {r.extra["scratch_fstype"] for r in records} == {host_fstype}
    assert not (out / "copy0" / "cpusuite-work").exists()


def test_hepchain_two_instances_in_docker(payload_image, tmp_path):
    results, payload = run_payload(payload_image, "docker", "hepchain", tmp_path / "run", copies=2)
    assert [r.exit_code for r in results] == [0, 0]
    records = {(r.benchmark, r.metric, r.copy): r for r in payload.parse(tmp_path / "run")}
    one, two = records[("hepchain", "events_per_s", 0)], records[("hepchain", "events_per_s", 1)]
    assert records[("hepchain", "events_per_s", None)].value == pytest.approx(one.value + two.value)


def corrupt_inputs(run_dir: Path, name: str) -> Path:
    """A copy of the image's inputs in the run dir (visible inside every mode), to be damaged."""
    inputs = run_dir / "inputs"
    shutil.copytree(INIMAGE / "inputs" / name, inputs)
    return inputs


def test_cpusuite_corrupted_input_and_wrong_output_fail_visibly(payload_image, tmp_path):
    out = tmp_path / "run"
    inputs = corrupt_inputs(out, "cpusuite")
    with open(inputs / "scene.pov", "a") as scene:  # one more sphere: a corrupted input file
        scene.write("sphere { <0, 3, 0>, 0.5 pigment { color rgb 1 } }\n")
    expected = json.loads((inputs / "expected.json").read_text())
    expected["smoke"]["401.bzip2"]["answer"] = "0" * 64  # the answer key disagrees: wrong output
    (inputs / "expected.json").write_text(json.dumps(expected))
    shutil.chown(out, 10001, 10001)
    argv = ["python3", "/opt/execbench/cpusuite.py", "--size", "smoke", "--copy", "{copy}",
            "--benchmarks", "400.perl,401.bzip2,453.povray", "--inputs", "/execbench/run/inputs"]
    results, payload = run_payload(payload_image, "docker", "cpusuite", out, argv=argv)
    assert results[0].exit_code == 1  # the suite says it failed
    got = {(r.benchmark, r.metric, r.copy): r for r in payload.parse(out)}
    assert got[("400.perl", "ratio", 0)].status == "ok"
    povray, bzip2 = got[("453.povray", "ratio", 0)], got[("401.bzip2", "ratio", 0)]
    assert (povray.status, povray.value) == ("failed", None)
    assert povray.detail.startswith("IE: input scene.pov sha256")
    assert (bzip2.status, bzip2.value) == ("failed", None)
    assert bzip2.detail.startswith("VE: output sha256")
    assert got[("cpusuite", "score", 0)].status == "invalid"
    assert got[("cpusuite", "score", None)].value is None


def test_hepchain_corrupted_card_fails_visibly(payload_image, tmp_path):
    out = tmp_path / "run"
    inputs = corrupt_inputs(out, "hepchain")
    card = inputs / "pythia.cmnd"
    card.write_text(card.read_text().replace("pTHatMin = 100.", "pTHatMin = 10."))
    argv = ["/opt/execbench/venv/bin/python", "/opt/execbench/hepchain.py", "--size", "smoke",
            "--copy", "{copy}", "--inputs", "/execbench/run/inputs"]
    results, payload = run_payload(payload_image, "docker", "hepchain", out, argv=argv)
    assert results[0].exit_code == 1
    got = {(r.benchmark, r.metric, r.copy): r for r in payload.parse(out)}
    chain = got[("hepchain", "events_per_s", 0)]
    assert (chain.status, chain.value) == ("failed", None)
    assert "input pythia.cmnd sha256" in chain.detail


@pytest.mark.parametrize("mode", ["bare", "docker"])
def test_stream_threads_per_copy_are_what_the_program_counted(payload_image, tmp_path, mode):
    """threads: 2 runs the OpenMP build; the count STREAM itself printed is in every record."""
    out = tmp_path / "run"
    results, payload = run_payload(payload_image, mode, "stream", out,
                                   settings={"threads": 2, "array_size": 2_000_000})
    assert [r.exit_code for r in results] == [0], (out / "copy0" / "stderr.log").read_text()
    assert "Number of Threads counted = 2" in (out / "copy0" / "stdout.log").read_text()
    records = [r for r in payload.parse(out) if r.copy == 0]
    assert {r.extra["threads"] for r in records} == {2} and all(r.status == "ok" for r in records)
