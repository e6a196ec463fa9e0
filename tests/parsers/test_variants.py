"""One fixture per output variant each parser claims (docs/log-formats.md), with hand-checked numbers.

Each test names the variant, where its layout comes from, and shows its arithmetic. A variant
that cannot be read is refused with a ParseError naming it, never read in part."""

from __future__ import annotations

import json
import shutil

import pytest

from execbench.errors import ParseError
from execbench.parsers import detect, get

from _parser_helpers import FIXTURES, all_valid, pick

STREAM, FIO, DB12, HS, SPEC = (FIXTURES / d for d in ("stream", "fio", "db12", "hepscore", "spec_cpu2006"))


def _bandwidths(records):
    return {r.benchmark: r.value for r in records if r.metric == "bandwidth"}


# --------------------------------------------------------------------------- STREAM
def test_stream_59_rate_heading_with_openmp_threads():
    # cases logs.md item 1 (logs/stream-5.9-heading): 'Function      Rate (MB/s)' heading, bare 'Solution
    # Validates', 4 'Printing one line per active thread....' lines, no 'Threads counted' line
    records = get("stream").parse(STREAM / "stream59_omp4.txt")
    assert all_valid(records)
    assert _bandwidths(records) == {"copy": 12355.2124, "scale": 11895.9108, "add": 13223.1405, "triad": 13008.1301}
    triad = pick(records, "triad", "bandwidth")
    assert (triad.unit, triad.status, triad.source_line) == ("MB/s", "ok", 32)
    assert (triad.extra["version"], triad.extra["array_size"], triad.extra["threads"]) == ("5.9", 20000000, 4)
    assert triad.extra["thread_lines"] == 4 and triad.extra["variant"] == "stream.c 5.9"


def test_stream_58_serial_build():
    # rate = 1e-6 * bytes / min time, bytes = {2,2,3,3} x 8 x 2,000,000:
    # copy 32/0.0125 = 2560; scale 32/0.0128 = 2500; add 48/0.0187 = 2566.8449; triad 48/0.0192 = 2500
    records = get("stream").parse(STREAM / "stream58_serial.txt")
    assert _bandwidths(records) == {"copy": 2560.0, "scale": 2500.0, "add": 2566.8449, "triad": 2500.0}
    assert "threads" not in records[0].extra and records[0].extra["ntimes"] == 10


def test_stream_fortran():
    # stream.f: n/1e6 * bytes(j) * 8 / mintime with n = 2e6: 32/0.0032 = 10000.0, 32/0.0033 = 9697.0 (f10.1),
    # 48/0.0044 = 10909.1, 48/0.0045 = 10666.7; ' Solution Validates!' (list-directed: leading blank)
    records = get("stream").parse(STREAM / "stream_f_5.6.txt")
    assert _bandwidths(records) == {"copy": 10000.0, "scale": 9697.0, "add": 10909.1, "triad": 10666.7}
    assert records[0].extra["variant"] == "stream.f 5.6" and records[0].extra["threads"] == 2
    assert records[0].extra["array_size"] == 2000000


def test_stream_gbs_heading_in_mb_per_s():
    # cases logs.md item 2: stream_ok.txt without its version line, 'Rate (GB/s)', rates / 1000
    records = get("stream").parse(STREAM / "stream_gbs_heading.txt")
    assert all_valid(records) and len(records) == 4
    copy = pick(records, "copy", "bandwidth")
    assert (copy.value, copy.unit, copy.extra["printed_rate"]) == (22066.0, "MB/s", 22.066)
    assert _bandwidths(records) == {"copy": 22066.0, "scale": 14956.6, "add": 16793.2, "triad": 16900.2}


def test_stream_hpcc_output_file():
    # HPCC 1.5 hpccoutf.txt StarSTREAM section: 8.5584 GB/s = 8558.4 MB/s
    path = STREAM / "hpccoutf.txt"
    assert detect(path).format == "stream"
    assert _bandwidths(get("stream").parse(path)) == {"copy": 8558.4, "scale": 5323.1, "add": 6112.2, "triad": 6134.1}


@pytest.mark.parametrize("name, line, words", [
    ("stream_no_rate_column.txt", None, "'Function      Bytes        AvgClks"),
    ("stream_f_overflow.txt", 24, "Fortran field overflowed"),
])
def test_stream_variants_that_cannot_be_read_are_refused_by_name(name, line, words):
    with pytest.raises(ParseError) as err:
        get("stream").parse(STREAM / name)
    assert err.value.line == line and words in err.value.expected


def test_stream_failed_validation_is_never_a_number():
    records = get("stream").parse(STREAM / "stream_failed.txt")
    assert {r.status for r in records} == {"failed"} and {r.value for r in records} == {None}


# --------------------------------------------------------------------------- fio
def test_fio_208_text_blank_before_commas_and_bare_version():
    # cases logs.md items 4 and 5: `iops=308 , runt=`, `lat (usec): min=3 , max=120001 , avg=3240.11`, '2.0.8'
    records = get("fio").parse(FIO / "fio_2.0.8.txt")
    read = {r.metric: r for r in records if r.benchmark == "seqread.read"}
    assert read["latency_mean"].value == 3240.11
    assert read["bandwidth"].value == pytest.approx(1234.5 / 1024) and read["iops"].value == 308.0
    assert read["bandwidth"].extra["fio_version"] == "2.0.8"


def test_fio_22_json_io_bytes_in_kib_and_lat_in_us():
    # fio 2.2.10 JSON: bw 51200 KiB/s = 50 MiB/s, iops 50, lat.mean 20000 us; io_bytes 65536 = KiB
    records = get("fio").parse(FIO / "fio_2.2.10.json")
    assert all_valid(records)
    assert pick(records, "seqwrite.write", "bandwidth").value == 50.0
    assert pick(records, "seqwrite.write", "latency_mean").value == 20000.0
    assert pick(records, "seqwrite.write", "iops").extra["io_bytes"] == 65536 * 1024


@pytest.mark.parametrize("name, kind", [
    ("fio_jsonplus.json", "json+"),
    ("fio_terse_v3.txt", "terse v3"),
    ("fio_terse_v5.txt", "terse v5"),
    ("fio_json_normal.txt", "json"),
    ("fio_normal_json.txt", "json"),
    ("fio_terse_json.txt", "json"),
])
def test_fio_every_format_of_the_same_two_jobs_gives_the_same_numbers(name, kind):
    # the jobs of fio_ok.json: seqread 153600 KiB/s = 150 MiB/s, 150 IO/s, lat 6666.6666 us;
    # randwrite 4096 KiB/s = 4 MiB/s, 1024 IO/s, lat 976.5625 us
    records = get("fio").parse(FIO / name)
    assert all_valid(records)
    got = {(r.benchmark, r.metric): r.value for r in records}
    assert got == pytest.approx({("seqread.read", "bandwidth"): 150.0, ("seqread.read", "iops"): 150.0,
                                 ("seqread.read", "latency_mean"): 6666.6666,
                                 ("randwrite.write", "bandwidth"): 4.0, ("randwrite.write", "iops"): 1024.0,
                                 ("randwrite.write", "latency_mean"): 976.5625})
    assert records[0].extra["output_format"] == kind


def test_fio_json_is_found_whatever_follows_it():
    # cases logs.md item 6: --output-format=json,normal writes the JSON and then the normal report
    records = get("fio").parse(FIO / "fio_json_normal.txt")
    assert records[0].extra["formats_in_file"] == "json,normal"
    assert pick(records, "seqread.read", "bandwidth").source_line == 15  # inside the JSON, after 4 message lines


def test_fio_halves_that_disagree_are_refused():
    with pytest.raises(ParseError) as err:
        get("fio").parse(FIO / "fio_json_normal_disagree.txt")
    assert err.value.line == 44 and "normal output to agree with the json output" in err.value.expected


def test_fio_terse_v2_refused_by_name():
    with pytest.raises(ParseError) as err:
        get("fio").parse(FIO / "fio_terse_v2.txt")
    assert err.value.line == 1 and "terse v2" in err.value.expected


def test_r7_negative_fio_numbers_are_a_parse_error_naming_file_and_line(tmp_path):
    # issue 13 R7: fio_ok.json with every bw, bw_bytes, iops, runtime negated
    data = json.loads((FIO / "fio_ok.json").read_text().split("\n", 1)[1])
    for job in data["jobs"]:
        for direction in ("read", "write", "trim"):
            for key in ("bw", "bw_bytes", "iops", "runtime"):
                job[direction][key] = -job[direction][key]
    path = tmp_path / "fio.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(ParseError) as err:
        get("fio").parse(path)
    assert err.value.path == str(path) and err.value.line is not None
    assert "positive" in err.value.expected or "physical range" in err.value.expected


# --------------------------------------------------------------------------- DB12
def test_db12_legacy_diracbenchmark_wholenode():
    # DIRACbenchmark.py wholenode (Python 2): 8 copies summing to 94.75, lower median raw[3] = 11.75
    records = get("db12").parse(DB12 / "db12_legacy_wholenode.txt")
    machine = pick(records, "DB12", "db12", None)
    assert (machine.value, machine.extra["copies"], machine.extra["median"]) == (94.75, 8, 11.75)
    assert [pick(records, "DB12", "db12", c).value for c in range(8)] == [11.25, 11.5, 11.5, 11.75, 12.0, 12.0,
                                                                          12.25, 12.5]


def test_db12_json_single_is_a_bare_float():
    assert pick(get("db12").parse(DB12 / "db12_single_json.json"), "DB12", "db12").value == 12.5


def test_db12_suite_report_section_is_not_a_db12_file():
    assert detect(HS / "benchmarking_db_summary.json").format == "hepscore"


# --------------------------------------------------------------------------- HEPscore
def test_hepscore_v2_weighted_geometric_mean():
    # hep-score 2.0: gen 41/38.58 -> 1.0627, reco 5/4.814 -> 1.0386 (4 decimals);
    # exp((2 ln 1.0627 + ln 1.0386) / 3) x 1018 = 1073.5881 (atlas-gen weight 2)
    score = pick(get("hepscore").parse(HS / "hepscore_v2.json"), "HEPscore23", "score")
    assert (score.value, score.status, score.extra["generation"]) == (1073.5881, "ok", "v2")
    assert score.extra["recomputed_score"] == pytest.approx(1073.5881, abs=1e-3)


def test_benchmarking_db_summary_document():
    # an Elasticsearch hit of the summary index: _source.message holds the suite v2.0 report whose
    # profiles.hepscore lost 'benchmarks'; digi 8.3154/3.58 -> 2.3227, gen 1025.0058/384 -> 2.6693,
    # sqrt(2.3227 x 2.6693) x 355 = 883.9417
    records = get("hepscore").parse(HS / "benchmarking_db_summary.json")
    assert all_valid(records)
    score = pick(records, "HEPscore19", "score")
    assert (score.value, score.status, score.extra["generation"]) == (883.9417, "ok", "summary")
    assert score.extra["document"] == "benchmarking DB (_source > message)"
    assert pick(records, "cms-digi-bmk.digi", "events_per_s").value == 8.3154
    assert pick(records, "HS06", "score").value == 30.42
    assert pick(records, "DB12", "est_hs06").value == 350.5
    assert pick(records, "host", "logical_cpus").extra["hostname"] == "wn077.example.org"


@pytest.mark.parametrize("name, words", [
    ("hepscore_success_zero_score.json", "score 0 <= 0 although status=success"),
    ("hepscore_success_no_workloads.json", "no workloads"),
    ("hepscore_success_missing_workload.json", "does not follow from the workloads"),
])
def test_hepscore_success_string_does_not_make_a_valid_score(name, words):
    score = pick(get("hepscore").parse(HS / name), "HEPscore23", "score")
    assert (score.status, score.value) == ("invalid", None) and words in score.detail
    assert score.extra["tool_status"] == "success"  # the tool's own word, beside the parsed status


def test_hepscore_failed_keeps_the_tools_status():
    score = pick(get("hepscore").parse(HS / "hepscore_failed.json"), "HEPscore23", "score")
    assert (score.status, score.extra["tool_status"], score.extra["reported_score"]) == ("failed", "failed", -1)


def test_suite_result_part_alone():
    # HS06/hs06_result.json of a suite run directory: the hs06_32 section of bmkrun_report.json
    records = get("hepscore").parse(FIXTURES / "suite" / "run_2025-01-11_0900" / "HS06" / "hs06_result.json")
    assert pick(records, "HS06", "score").value == 29.45


# --------------------------------------------------------------------------- SPEC CPU2006
def test_spec_speed_txt_every_status():
    # S (median 20.3 marked *), VE beside S (15.0 marked, invalid), RE x3 (failed), CE '--' (failed), NR (not run)
    records = get("spec-cpu2006").parse(SPEC / "statuses" / "CINT2006.010.ref.txt")
    got = {r.benchmark: (r.value, r.status) for r in records if r.metric == "ratio"}
    assert got == {"400.perlbench": (20.3, "ok"), "401.bzip2": (15.0, "invalid"), "403.gcc": (None, "failed"),
                   "429.mcf": (None, "failed")}
    mcf = [r for r in records if r.benchmark == "429.mcf" and r.metric == "iteration_ratio"]
    assert [(r.extra["spec_status"], r.extra["run_time_s"]) for r in mcf] == [("CE", None)]
    mean = pick(records, "SPECint_base2006", "base_mean")
    assert mean.status == "invalid" and mean.extra["not_run"] == ["445.gobmk"]


def test_spec_rate_txt_every_status_and_copies():
    # rate run of 4 copies; the CE row prints copies 1 (compile_error_result) and must not change it
    records = get("spec-cpu2006").parse(SPEC / "statuses" / "CFP2006.011.ref.txt")
    got = {r.benchmark: (r.value, r.status) for r in records if r.metric == "rate"}
    assert got == {"444.namd": (40.1, "ok"), "447.dealII": (80.0, "invalid"), "450.soplex": (None, "failed"),
                   "453.povray": (None, "failed")}
    assert {r.extra["spec_copies"] for r in records} == {4}
    assert "iteration 1: CE" in pick(records, "453.povray", "rate").detail


def test_spec_rsf_compile_error_and_run_error():
    # raw file: 429.mcf CE (iteration -1, ratio and time '--', errors000), 403.gcc RE then S (8050/402.5 = 20.0)
    records = get("spec-cpu2006").parse(SPEC / "statuses" / "CINT2006.012.ref.rsf")
    gcc, mcf = pick(records, "403.gcc", "ratio"), pick(records, "429.mcf", "ratio")
    assert (gcc.value, gcc.status) == (20.0, "invalid") and "exit code=139" in gcc.detail
    assert (mcf.value, mcf.status) == (None, "failed") and "build_base_x32_gcc_cern.0000) failed" in mcf.detail


def test_r14_rsf_negative_reported_time_is_a_parse_error(tmp_path):
    # issue 13 R14: a successful iteration with reported_time -506.25 is not a measurement
    text = (SPEC / "CINT2006.005.ref.rsf").read_text()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.endswith("base.000.reported_time: 506.250370"))
    path = tmp_path / "CINT2006.005.ref.rsf"
    path.write_text(text.replace("base.000.reported_time: 506.250370", "base.000.reported_time: -506.250370"))
    with pytest.raises(ParseError) as err:
        get("spec-cpu2006").parse(path)
    assert err.value.line == line and "positive reported_time" in err.value.expected


def test_spec_log_negative_runtime_is_a_parse_error(tmp_path):
    text = (SPEC / "CPU2006.004.log").read_text()
    assert "runtime=476.585366" in text  # line 20
    path = tmp_path / "CPU2006.004.log"
    path.write_text(text.replace("runtime=476.585366", "runtime=-476.585366", 1))
    with pytest.raises(ParseError) as err:
        get("spec-cpu2006").parse(path)
    assert err.value.line == 20 and "physical range" in err.value.expected


def test_every_fixture_of_a_variant_is_detected_as_its_format(tmp_path):
    for fmt, folder in (("stream", STREAM), ("fio", FIO), ("db12", DB12), ("hepscore", HS)):
        for path in sorted(folder.iterdir()):
            assert detect(path).format == fmt, path
    shutil.copytree(SPEC / "statuses", tmp_path / "statuses")
    assert detect(tmp_path / "statuses").format == "spec-cpu2006"
