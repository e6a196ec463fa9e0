"""DB12, STREAM and fio outputs."""

import pytest

from execbench.errors import ParseError
from execbench.parsers import detect, get

from _parser_helpers import FIXTURES, all_valid, pick


def test_db12_single():
    records = get("db12").parse(FIXTURES / "db12" / "db12_single.txt")
    assert pick(records, "DB12", "db12").value == 12.345678901234567


@pytest.mark.parametrize("name", ["db12_multiple.txt", "db12_multiple.json"])
def test_db12_multiple(name):
    # raw 9.5 10.0 10.0 10.5: sum 40.0; DIRAC's median = raw[(4-1)//2] = 10.0 (lower median)
    records = get("db12").parse(FIXTURES / "db12" / name)
    assert all_valid(records)
    machine = pick(records, "DB12", "db12", None)
    assert machine.value == 40.0 and machine.extra["median"] == 10.0 and machine.unit == "DB12"
    assert [pick(records, "DB12", "db12", c).value for c in range(4)] == [9.5, 10.0, 10.0, 10.5]


def test_db12_suite_calibration_kept_apart():
    records = get("db12").parse(FIXTURES / "db12" / "db12_result.json")
    assert [(r.metric, r.unit) for r in records] == [("est_hs06", "est. HS06")]


def test_db12_inconsistent_sum(tmp_path):
    path = tmp_path / "db12.txt"
    path.write_text("2 30.0 15.0 15.0 15.0\n10.0 10.0\n")  # 10 + 10 = 20 != 30
    with pytest.raises(ParseError) as err:
        get("db12").parse(path)
    assert err.value.line == 1 and "SUM=30.0" in err.value.expected


def test_stream_ok_and_failed():
    records = get("stream").parse(FIXTURES / "stream" / "stream_ok.txt")
    triad = pick(records, "triad", "bandwidth")
    assert (triad.value, triad.unit, triad.source_line, triad.extra["threads"]) == (16900.2, "MB/s", 30, 2)
    failed = get("stream").parse(FIXTURES / "stream" / "stream_failed.txt")
    assert all(r.status == "failed" and r.value is None for r in failed)
    assert pick(failed, "copy", "bandwidth").extra["measured"] == 22066.0
    assert "Failed Validation" in failed[0].detail


def test_stream_truncated(tmp_path):
    text = (FIXTURES / "stream" / "stream_ok.txt").read_text()
    path = tmp_path / "stream.txt"
    path.write_text(text[: text.index("Add:")])
    with pytest.raises(ParseError) as err:
        get("stream").parse(path)
    assert err.value.line is not None and "Add:" in err.value.expected


def test_fio_json():
    # seqread: bw 153600 KiB/s = 150 MiB/s, iops 150, lat_ns mean 6666666.6 -> 6666.6666 us
    # randwrite: bw 4096 KiB/s = 4 MiB/s, iops 1024, lat 976562.5 ns = 976.5625 us
    records = get("fio").parse(FIXTURES / "fio" / "fio_ok.json")
    assert all_valid(records)
    assert pick(records, "seqread.read", "bandwidth").value == 150.0
    # line 12 holds job 1's `"read" : {` key (line 11 has "read" only as a job-option value)
    assert pick(records, "seqread.read", "bandwidth").source_line == 12
    assert pick(records, "seqread.read", "latency_mean").value == pytest.approx(6666.6666)
    assert pick(records, "randwrite.write", "iops").value == 1024.0
    assert pick(records, "randwrite.write", "bandwidth").value == 4.0
    assert not [r for r in records if r.benchmark.endswith(".trim")]


def test_fio_json_job_error():
    records = get("fio").parse(FIXTURES / "fio" / "fio_error.json")
    bad = pick(records, "randwrite", "bandwidth")
    assert bad.status == "failed" and bad.value is None and "error=5" in bad.detail


def test_fio_text_v3_and_v2():
    # v3: BW=1510MiB/s, IOPS=1510, lat avg 656.00 usec; write BW=15.1MiB/s, IOPS=3866, lat avg 258000.50 nsec
    records = get("fio").parse(FIXTURES / "fio" / "fio_text.txt")
    assert pick(records, "seqread.read", "bandwidth").value == 1510.0
    assert pick(records, "randwrite.write", "latency_mean").value == pytest.approx(258.0005)
    assert pick(records, "randwrite.write", "iops").source_line == 24
    # v2: bw=1234.5KB/s (fio 2 KB = KiB) -> 1234.5 / 1024 = 1.205566 MiB/s; lat avg 3240.11 us
    old = get("fio").parse(FIXTURES / "fio" / "fio_v2.txt")
    assert pick(old, "seqread.read", "bandwidth").value == pytest.approx(1.205566, abs=1e-6)
    assert pick(old, "seqread.read", "latency_mean").value == 3240.11


@pytest.mark.parametrize(
    "path, fmt",
    [
        ("db12/db12_single.txt", "db12"),
        ("db12/db12_result.json", "db12"),
        ("stream/stream_ok.txt", "stream"),
        ("fio/fio_ok.json", "fio"),
        ("fio/fio_text.txt", "fio"),
        ("hepscore/hepscore_ok.json", "hepscore"),
        ("spec_cpu2006/CINT2006.005.ref.rsf", "spec-cpu2006"),
        ("spec_cpu2006/CPU2006.004.log", "spec-cpu2006"),
        ("kv/one_instance", "kitvalidation"),
    ],
)
def test_detection(path, fmt):
    assert detect(FIXTURES / path).format == fmt
