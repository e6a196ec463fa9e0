"""SPEC CPU2006 result files. Expected numbers come from the fixture tables (worked by hand)."""

import pytest

from execbench.errors import ParseError
from execbench.parsers import get
from execbench.parsers.spec_cpu2006 import Iteration, read_result, resolve_benchmark

from _parser_helpers import FIXTURES, all_valid, pick

SPEC = FIXTURES / "spec_cpu2006"
parser = get("spec-cpu2006")


def test_speed_txt_selected_median_and_statuses():
    # CINT2006.004.ref.txt, full table:
    #   400.perlbench 20.5 S / 20.1 S / 20.3 *   -> selected 20.3 (median of 20.1, 20.3, 20.5)
    #   401.bzip2     15.0 * / VE / 15.2 S       -> 15.0 (lower median of 15.0, 15.2), flagged invalid
    #   403.gcc       RE / RE / RE               -> no valid iteration: failed, value None
    path = SPEC / "CINT2006.004.ref.txt"
    records = parser.parse(path)
    assert all_valid(records)
    perl = pick(records, "400.perlbench", "ratio")
    assert (perl.value, perl.status, perl.unit) == (20.3, "ok", "ratio")
    assert perl.source_line == 34 and perl.extra["selected_iteration"] == 3
    bzip = pick(records, "401.bzip2", "ratio")
    assert (bzip.value, bzip.status) == (15.0, "invalid") and "iteration 2: VE" in bzip.detail
    gcc = pick(records, "403.gcc", "ratio")
    assert (gcc.value, gcc.status) == (None, "failed") and "RE" in gcc.detail
    iters = [r for r in records if r.benchmark == "401.bzip2" and r.metric == "iteration_ratio"]
    assert [r.extra["spec_status"] for r in iters] == ["S", "VE", "S"]
    assert [r.value for r in iters] == [15.0, None, 15.2]
    mean = pick(records, "SPECint_base2006", "base_mean")
    assert mean.status == "invalid" and mean.value is None and mean.extra["estimated"] is True
    assert "429.mcf" in mean.extra["not_run"] and "403.gcc" not in mean.extra["not_run"]
    assert perl.extra["bits"] == 64 and perl.extra["kind"] == "speed"


def test_rate_txt_reads_copies_and_rate():
    # CFP2006.001.ref.txt: rate run, 4 copies; 444.namd rates 40.1 * / 40.5 / 39.8 -> 40.1 (the median)
    # 453.povray 60.2 * / 60.0 / 61.0 -> 60.2; printed mean 49.1 (= sqrt(40.1 * 60.2) = sqrt(2414.02) = 49.13)
    records = parser.parse(SPEC / "CFP2006.001.ref.txt")
    namd = pick(records, "444.namd", "rate")
    assert (namd.value, namd.unit, namd.extra["spec_copies"], namd.extra["kind"]) == (40.1, "rate", 4, "rate")
    assert pick(records, "453.povray", "rate").value == 60.2
    mean = pick(records, "SPECfp_rate_base2006", "base_mean")
    assert mean.value == 49.1 and mean.status == "ok"


def test_rate_csv_full_precision():
    # CFP2006.001.ref.csv (same rate run as the txt, full precision): 444.namd rates
    # 40.123456 (selected) 40.512345 39.801234 -> 40.123456 = the median; 453.povray 60.234567 selected
    # mean row 49.16115 = sqrt(40.123456 x 60.234567) = sqrt(2416.819) = 49.1612
    records = parser.parse(SPEC / "CFP2006.001.ref.csv")
    namd = pick(records, "444.namd", "rate")
    assert (namd.value, namd.extra["spec_copies"], namd.extra["kind"], namd.extra["bits"]) == (40.123456, 4, "rate", 64)
    assert namd.extra["run_number"] == "001" and namd.source_line == 6
    assert pick(records, "453.povray", "rate").value == 60.234567
    assert pick(records, "SPECfp_rate_base2006", "base_mean").value == pytest.approx(49.1612, abs=1e-4)


def test_rsf_even_count_lower_median_and_full_precision():
    # CINT2006.005.ref.rsf: 471.omnetpp 12.34567, 12.45678 (2 iterations) -> lower median 12.34567
    # 473.astar 8.5, 8.25, 8.75, 8.0 -> sorted 8.0 8.25 8.5 8.75, lower median 8.25
    # 483.xalancbmk 15.0 S, VE -> invalid 15.0
    records = parser.parse(SPEC / "CINT2006.005.ref.rsf")
    assert pick(records, "471.omnetpp", "ratio").value == 12.34567
    assert pick(records, "473.astar", "ratio").value == 8.25
    xalan = pick(records, "483.xalancbmk", "ratio")
    assert (xalan.value, xalan.status) == (15.0, "invalid")
    assert pick(records, "471.omnetpp", "ratio").extra["bits"] == 64


def test_median_rule_when_the_file_does_not_say():
    def its(*ratios):
        return [Iteration("444.namd", i + 1, "S", r, None, None, i + 1) for i, r in enumerate(ratios)]

    # 4 values 9, 12, 10, 11: sorted 9 10 11 12 -> lower median 10 (not 10.5, not 11)
    result = resolve_benchmark("444.namd", its(9.0, 12.0, 10.0, 11.0))
    assert (result.value, result.selected_by, result.chosen.iteration) == (10.0, "median", 3)
    # 3 values 7, 5, 6 -> 6
    assert resolve_benchmark("444.namd", its(7.0, 5.0, 6.0)).value == 6.0


def test_csv_rate_run(tmp_path):
    # A v1.2 rate csv (shape of the CSV formatter): 2 copies, 444.namd iterations
    # 80.1 (selected), 79.0, 81.3; mean row 80.1
    path = tmp_path / "CFP2006.007.ref.csv"
    path.write_text(
        'valid,0\n\n"Full Results Table"\n\n'
        'Benchmark,"Base # Copies","Est. Base Run Time","Est. Base Rate","Base Selected","Base Status",'
        '"Peak # Copies","Est. Peak Run Time","Est. Peak Rate","Peak Selected","Peak Status",Description\n'
        '444.namd,2,200.249688,80.1,1,S,,,,,,"ref iteration #1"\n'
        '444.namd,2,203.037975,79.0,0,S,,,,,,"ref iteration #2"\n'
        '444.namd,2,197.293973,81.3,0,S,,,,,,"ref iteration #3"\n\n'
        '"Selected Results Table"\n\n'
        'Benchmark,"Base # Copies","Est. Base Run Time","Est. Base Rate","Base Selected","Base Status",'
        '"Peak # Copies","Est. Peak Run Time","Est. Peak Rate","Peak Selected","Peak Status",Description\n'
        '444.namd,2,200.249688,80.1,1,S,,,,,NR,"SelectedIteration (base #1)"\n\n'
        'SPECfp_rate_base2006,80.1,,80.1\nSPECfp_rate2006,"Not Run",,,,,,,"Not Run"\n\n"Run number:",007\n'
        '"Base Pointers",64-bit\n'
    )
    records = parser.parse(path)
    namd = pick(records, "444.namd", "rate")
    assert (namd.value, namd.extra["spec_copies"], namd.extra["run_number"], namd.extra["bits"]) == (80.1, 2, "007", 64)
    assert pick(records, "SPECfp_rate_base2006", "base_mean").value == 80.1


def test_run_log_statuses_and_truncation():
    # CPU2006.004.log: perlbench 3x Success; bzip2 2x Success + a miscompare; gcc errors;
    # no "runspec finished" line (interrupted)
    records = parser.parse(SPEC / "CPU2006.004.log")
    perl = [r for r in records if r.benchmark == "400.perlbench"]
    assert [r.status for r in perl] == ["ok", "ok", "ok"]
    assert perl[0].value == pytest.approx(9770 / 20.5, rel=1e-6)  # Reported runtime 476.585366 s
    failed = {r.benchmark: r for r in records if r.status == "failed" and r.benchmark != "runspec"}
    assert set(failed) == {"401.bzip2", "403.gcc"} and "VE" in failed["401.bzip2"].detail
    assert pick(records, "runspec", "elapsed").status == "failed"
    assert perl[0].extra["bits"] == 64 and perl[0].extra["iterations"] == 3


def test_real_layout_header_and_nr_rows(tmp_path):
    # Rows exactly as a real v1.2 HS06 report prints them (banner, 'Estimated', NR, aligned decimals)
    path = tmp_path / "CFP2006.002.ref.txt"
    path.write_text(
        "#" * 78
        + "\n#   INVALID RUN -- INVALID RUN -- INVALID RUN -- INVALID RUN -- INVALID RUN  #\n"
        + "#" * 78
        + "\n"
        "                           SPEC(R) CFP2006 Summary\n\n"
        "                                  Estimated                       Estimated\n"
        "                Base     Base       Base        Peak     Peak       Peak\n"
        "Benchmarks      Ref.   Run Time     Ratio       Ref.   Run Time     Ratio\n"
        "-------------- ------  ---------  ---------    ------  ---------  ---------\n"
        "410.bwaves                                  NR                                 \n"
        "444.namd         8020       1280       6.26 *                                  \n"
        "447.dealII      11440       1006      11.4  *                                  \n" + "=" * 78 + "\n"
        "410.bwaves                                  NR                                 \n"
        "444.namd         8020       1280       6.26 *                                  \n"
        "447.dealII      11440       1006      11.4  *                                  \n"
        " Est. SPECfp(R)_base2006                 --\n"
        " Est. SPECfp2006                                                    Not Run\n"
    )
    result = read_result(path)
    assert {n: b.value for n, b in result.benchmarks.items()} == {"444.namd": 6.26, "447.dealII": 11.4}
    assert result.not_run == ["410.bwaves"] and result.estimated and result.base_mean is None


@pytest.mark.parametrize("cut_after", ["444.namd", "===="])
def test_truncated_txt_names_file_and_line(tmp_path, cut_after):
    text = (SPEC / "hs06_valid_2copies" / "CFP2006.002.ref.txt").read_text()
    lines = text.splitlines(keepends=True)
    # keep everything up to the first line containing the marker
    keep = next(i for i, line in enumerate(lines) if line.startswith(cut_after))
    path = tmp_path / "CFP2006.002.ref.txt"
    path.write_text("".join(lines[: keep + 1]))
    with pytest.raises(ParseError) as err:
        parser.parse(path)
    assert err.value.path == str(path) and err.value.line == keep + 1
    assert "truncated" in err.value.expected


def test_rsf_missing_status_is_a_parse_error(tmp_path):
    lines = (SPEC / "CINT2006.005.ref.rsf").read_text().splitlines()
    kept = [line for line in lines if not line.startswith("spec.cpu2006.results.473_astar.base.002.valid")]
    path = tmp_path / "CINT2006.005.ref.rsf"
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(ParseError) as err:
        parser.parse(path)
    assert "473_astar" in err.value.expected and err.value.line is not None


def test_result_directory_of_a_non_hs06_run(tmp_path):
    # a SPEC result/ dir with one rate run (txt + csv of run 001): the txt is read, once
    import shutil

    from execbench.parsers import detect

    result = tmp_path / "result"
    result.mkdir()
    for name in ("CFP2006.001.ref.txt", "CFP2006.001.ref.csv"):
        shutil.copy(SPEC / name, result / name)
    assert detect(tmp_path).format == "spec-cpu2006"
    records = parser.parse(tmp_path)
    namd = pick(records, "444.namd", "rate")
    assert namd.value == 40.1 and namd.extra["file_format"] == "txt"
