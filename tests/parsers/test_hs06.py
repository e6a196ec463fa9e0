"""HEP-SPEC06 from a result directory. Arithmetic worked by hand from the fixture tables.

hs06_valid_2copies: copy 0 (run 002) selected ratios namd 10.0, dealII 20.0, soplex 10.0,
povray 20.0, omnetpp 10.0, astar 20.0, xalancbmk 10.0 -> geomean = (10^4 * 20^3)^(1/7)
= 10 * 2^(3/7) = 10 * e^(0.297063) = 13.45900; copy 1 (run 003): all 16.0 -> 16.0.
Machine: 13.45900 + 16.0 = 29.45900 -> HEPiX truncation 29.45.
"""

import pytest

from execbench.parsers import detect, get

from _parser_helpers import FIXTURES, all_valid, pick

SPEC = FIXTURES / "spec_cpu2006"


def test_valid_two_copies():
    records = get("hs06").parse(SPEC / "hs06_valid_2copies")
    assert all_valid(records)
    assert pick(records, "HS06", "score", 0).value == pytest.approx(13.45900, abs=5e-6)
    assert pick(records, "HS06", "score", 1).value == pytest.approx(16.0)
    machine = pick(records, "HS06", "score", None)
    assert machine.status == "ok" and machine.value == pytest.approx(29.45900, abs=5e-6)
    assert machine.extra["hepix_truncated"] == 29.45 and machine.extra["bits"] == 32
    assert machine.extra["copies"] == 2 and machine.extra["method"] == "printed"
    # per-benchmark machine value = sum over copies: namd 10.0 + 16.0, dealII 20.0 + 16.0
    assert pick(records, "444.namd", "ratio", None).value == pytest.approx(26.0)
    assert pick(records, "447.dealII", "ratio", None).value == pytest.approx(36.0)
    assert pick(records, "450.soplex", "ratio", 0).source_line is not None


def test_failed_benchmark_in_one_copy_invalidates_machine_score():
    # copy 1's 450.soplex: RE in all 3 iterations (NR in the selected table)
    records = get("hs06").parse(SPEC / "hs06_failed_benchmark")
    copy1 = pick(records, "HS06", "score", 1)
    assert copy1.status == "invalid" and copy1.value is None and "450.soplex" in copy1.detail
    machine = pick(records, "HS06", "score", None)
    assert machine.status == "invalid" and machine.value is None
    assert "copy 1" in machine.detail and "450.soplex" in machine.detail
    assert pick(records, "HS06", "score", 0).status == "ok"
    assert pick(records, "450.soplex", "ratio", 1).status == "failed"


def test_legacy_mode_reproduces_wrapper_including_silent_six_benchmark_mean():
    # The wrapper's sed drops the failed soplex row and averages copy 1 over 6 benchmarks,
    # all 16.0 -> 16.0 (bc: e(6*l(16)/6) = 15.99999996 at scale=8); copy 0 as above 13.45900178
    # Sum 29.45900174 -> "Final result: 29.45"
    records = get("hs06-legacy").parse(SPEC / "hs06_failed_benchmark")
    machine = pick(records, "HS06", "score_legacy", None)
    assert machine.value == 29.45 and machine.extra["final_result"] == "29.45"
    assert "legacy HEPiX" in machine.detail
    copy1 = pick(records, "HS06", "score_legacy", 1)
    assert copy1.extra["benchmarks_matched"] == 6 and "only 6 of 7" in copy1.detail
    assert copy1.value == pytest.approx(16.0, abs=1e-7)


def test_rsf_only_directory_uses_full_precision_and_64_bit():
    # every benchmark's median iteration is 12.5 -> per-copy geomean 12.5, one copy
    records = get("hs06").parse(SPEC / "hs06_rsf_only_64bit")
    machine = pick(records, "HS06", "score", None)
    assert machine.value == pytest.approx(12.5) and machine.extra["bits"] == 64
    assert pick(records, "444.namd", "ratio", 0).extra["file_format"] == "rsf"
    # the wrapper reads only *.txt: it finds nothing, and that is a failure, not a 0
    legacy = pick(get("hs06-legacy").parse(SPEC / "hs06_rsf_only_64bit"), "HS06", "score_legacy", None)
    assert legacy.status == "failed" and legacy.value is None


def test_detect_prefers_hs06_for_an_all_cpp_directory():
    assert detect(SPEC / "hs06_valid_2copies").format == "hs06"


def test_same_result_set_twice_is_one_clear_error(tmp_path):
    import shutil

    from execbench.errors import ParseError

    run = tmp_path / "run"
    shutil.copytree(SPEC / "hs06_valid_2copies", run)
    (run / "result").mkdir()
    shutil.copy(run / "CFP2006.003.ref.txt", run / "result" / "CFP2006.003.ref.txt")
    with pytest.raises(ParseError) as err:
        get("hs06").parse(run)
    assert "present twice" in err.value.expected and "CFP2006.003" in err.value.expected


def test_unreadable_copy_file_fails_that_copy_only(tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(SPEC / "hs06_valid_2copies", run)
    (run / "CINT2006.003.ref.txt").write_bytes(b"\x00\x01garbage\x00")
    records = get("hs06").parse(run)
    assert pick(records, "HS06", "score", 0).status == "ok"
    assert pick(records, "HS06", "score", 1).status == "invalid"
    bad = [r for r in records if r.metric == "result_file"]
    assert len(bad) == 1 and bad[0].extra["parse_error"]["path"].endswith("CINT2006.003.ref.txt")


def test_full_precision_method_reads_the_rsf_when_both_exist(tmp_path):
    import shutil

    # add the rsf of a copy whose txt prints 20.0 for 447.dealII: the full-precision parser
    # must take the rsf value (20.04) and say so; the default parser keeps the printed 20.0
    run = tmp_path / "run"
    shutil.copytree(SPEC / "hs06_valid_2copies", run)
    rsf = (SPEC / "hs06_rsf_only_64bit" / "CFP2006.002.ref.rsf").read_text()
    rsf = rsf.replace("447_dealII.base.000.ratio: 12.5", "447_dealII.base.000.ratio: 20.04")
    (run / "CFP2006.002.ref.rsf").write_text(rsf)
    precise = get("hs06-full-precision").parse(run)
    dealii = pick(precise, "447.dealII", "ratio", 0)
    assert dealii.value == 20.04 and dealii.extra["method"] == "full-precision" and dealii.extra["file_format"] == "rsf"
    printed = pick(get("hs06").parse(run), "447.dealII", "ratio", 0)
    assert printed.value == 20.0 and printed.extra["method"] == "printed"
