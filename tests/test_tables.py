"""Tables from (synthetic, fake) parsed runs: measurements, ratios to bare metal, scaling, exclusions.

Golden tables live in tests/golden/. After an intended change of the tables, regenerate them with
    EXECBENCH_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_tables.py
and review the diff before committing.
"""

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
import synthetic_runs

from execbench import report, stats, tables

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("EXECBENCH_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_parsed")
    paths = synthetic_runs.write_parsed_runs(root / "parsed")
    files = tables.write_tables(paths, root / "tables")
    return root, paths, files


def read(files, key):
    return pd.read_csv(files[key if key in files else f"{key}_csv"])


def test_fake_measurements_have_the_contract_columns_and_one_row_per_record(built):
    _, paths, files = built
    m = read(files, "measurements")
    assert list(m.columns) == tables.MEASUREMENT_COLUMNS
    n_records = sum(len(json.loads(Path(p).read_text())["records"]) for p in paths)
    assert len(m) == n_records
    failed = m[m["run_id"] == "cpusuite-docker-2c-r2"]
    assert not failed.empty and set(failed["run_status"]) == {"failed"}
    assert set(m["host"]) == {"synth-host"}
    assert set(m["image_digest"]) == {"sha256:" + "ab" * 32}


def test_fake_ratio_is_the_paired_geometric_mean_and_fieller_the_cross_check(built):
    _, _, files = built
    m, rel = read(files, "measurements"), read(files, "relative")

    def machine_values(mode):
        sel = m[(m["payload"] == "cpusuite") & (m["benchmark"] == "cpusuite") & (m["metric"] == "score")
                & (m["copies"] == 1) & (m["mode"] == mode) & m["copy"].isna() & (m["run_status"] == "ok")]
        return dict(zip(sel["repetition"].astype(int), sel["value"]))

    docker, bare = machine_values("docker"), machine_values("bare")
    assert sorted(docker) == sorted(bare) == [1, 2, 3]
    row = rel[(rel["payload"] == "cpusuite") & (rel["benchmark"] == "cpusuite") & (rel["copies"] == 1)
              & (rel["mode"] == "docker")].iloc[0]
    # the answer: round by round, then across rounds (geometric mean of the three ratios)
    by_hand = math.exp(sum(math.log(docker[r] / bare[r]) for r in (1, 2, 3)) / 3)
    assert row["ratio"] == pytest.approx(by_hand, rel=1e-9)
    paired = stats.paired_ratio(docker, bare, higher_is_better=True)
    assert row["perf_ci_low"] == pytest.approx(paired.perf_ci_low, rel=1e-9)
    assert (row["verdict"], row["method"], row["n_pairs"]) == (paired.verdict, stats.METHOD, 3)
    assert row["half_width_pct"] == pytest.approx(paired.half_width_pct) and row["mde_pct"] > row["half_width_pct"]
    # the cross-check: Fieller on the two sides as unpaired samples
    unpaired = stats.ratio_ci(list(docker.values()), list(bare.values()), higher_is_better=True)
    assert row["unpaired_perf_ci_low"] == pytest.approx(unpaired.perf_ci_low, rel=1e-9)
    assert row["unpaired_verdict"] == unpaired.verdict
    # The generator's true docker factor is 0.99 (noise 0.4 % per value).
    assert row["relative_performance"] == pytest.approx(0.99, abs=0.006)


def test_fake_failed_and_unavailable_runs_are_excluded_and_listed(built):
    _, _, files = built
    rel = read(files, "relative")
    cell = rel[(rel["payload"] == "cpusuite") & (rel["benchmark"] == "cpusuite") & (rel["copies"] == 2)
               & (rel["mode"] == "docker")].iloc[0]
    assert cell["n_mode"] == 2  # r2 failed: only r1 and r3 count
    assert "cpusuite-docker-2c-r2" not in cell["mode_runs"]
    assert "vm" not in set(rel["mode"])  # the only vm run was unavailable
    excluded = json.loads(files["excluded"].read_text())
    by_id = {r["run_id"]: r for r in excluded["runs_not_ok"]}
    assert by_id["cpusuite-docker-2c-r2"]["status"] == "failed"
    assert by_id["cpusuite-docker-2c-r2"]["reason"] == "copy 1 exited with code 1"
    assert by_id["cpusuite-vm-1c-r1"]["status"] == "unavailable"
    assert "KVM" in by_id["cpusuite-vm-1c-r1"]["reason"]
    assert [e["line"] for e in excluded["parse_errors"]] == [7]
    assert {r["benchmark"] for r in excluded["failed_records"]} == {"gcc"}


def test_fake_geomean_row_equals_geomean_of_benchmark_ratios(built):
    _, _, files = built
    rel = read(files, "relative")
    one = rel[(rel["payload"] == "cpusuite") & (rel["copies"] == 1) & (rel["mode"] == "podman")]
    g = one[one["benchmark"] == "geomean"].iloc[0]
    assert g["geomean_of"] == "bzip2,gcc,gobmk,hmmer,povray,xalan"
    # At 1 copy the suite score is the geometric mean of the same ratios, so both rows agree.
    score = one[one["benchmark"] == "cpusuite"].iloc[0]
    assert g["ratio"] == pytest.approx(score["ratio"], rel=1e-9)
    # Ratio of geometric means = geometric mean of per-benchmark ratios of means only approximately
    # (means of products differ from products of means), within the noise here.
    per_bench = one[~one["benchmark"].isin(["geomean", "cpusuite"])]
    assert g["ratio"] == pytest.approx(stats.geometric_mean(per_bench["ratio"]), rel=1e-3)


def test_fake_headlines_and_scaling(built):
    _, _, files = built
    meta = json.loads(files["relative_json"].read_text())
    assert meta["headline"] == {"cpusuite": ["cpusuite", "score"], "hepchain": ["hepchain", "events_per_s"],
                                "startup": ["startup", "latency_median"]}
    assert meta["method"] == stats.METHOD
    sc = read(files, "scaling")
    bare = sc[(sc["payload"] == "cpusuite") & (sc["mode"] == "bare")].set_index("copies")
    # Two copies of a CPU-bound suite on two cores: machine score doubles, efficiency ~100 %.
    assert bare.loc[2, "mean"] == pytest.approx(2 * bare.loc[1, "mean"], rel=0.02)
    assert bare.loc[2, "scaling_efficiency"] == pytest.approx(bare.loc[2, "mean"] / (2 * bare.loc[1, "mean"]), rel=1e-8)


def test_fake_emulated_vm_rows_are_flagged(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("cpusuite",), emulated_vm=True,
                                             unavailable_vm=False)
    rel, _ = tables.relative_table(tables.load_parsed_runs(paths).measurements)
    vm = rel[rel["mode"] == "vm"]
    assert not vm.empty and vm["emulated"].all()
    assert set(vm["flag"]) == {"emulated (TCG) — not comparable to bare metal"}
    assert set(rel[rel["mode"] != "vm"]["flag"]) == {""}
    assert "not comparable" in tables.relative_markdown(rel)


def test_fake_ratios_never_cross_hosts(tmp_path):
    a = synthetic_runs.write_parsed_runs(tmp_path / "a", payloads=("cpusuite",), modes=("bare",),
                                         failed=False, unavailable_vm=False)
    b = synthetic_runs.write_parsed_runs(tmp_path / "b", payloads=("cpusuite",), modes=("docker",), failed=False,
                                         unavailable_vm=False, host_suffix="-other")
    rel, uncompared = tables.relative_table(tables.load_parsed_runs(a + b).measurements)
    assert rel.empty
    assert {(u["host"], u["mode"]) for u in uncompared} == {("synth-host-other", "docker")}
    assert all("no 'bare' runs on this host" in u["reason"] for u in uncompared)


def test_bad_parsed_file_is_listed_and_the_rest_goes_on(tmp_path):
    good = synthetic_runs.write_parsed_runs(tmp_path / "parsed", payloads=("startup",), failed=False,
                                            unavailable_vm=False)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    no_payload = tmp_path / "no_payload.json"
    no_payload.write_text(json.dumps({"run": {"rel_dir": "x/y/1c/r1"}, "records": [],
                                      "errors": [{"path": "x/y/1c/r1/run.json", "line": None,
                                                  "expected": "a readable run.json"}]}))
    parsed = tables.load_parsed_runs(good + [garbage, no_payload])
    reasons = {Path(u["path"]).name: u["reason"] for u in parsed.unreadable}
    assert reasons["garbage.json"].startswith("JSONDecodeError")
    assert "run.payload" in reasons["no_payload.json"]
    assert any(e["expected"] == "a readable run.json" for e in parsed.parse_errors)
    assert len(parsed.runs) == len(good)


def test_n1_cell_says_no_interval(tmp_path):
    paths = synthetic_runs.write_parsed_runs(tmp_path / "p", payloads=("hepchain",), reps=1, failed=False,
                                             unavailable_vm=False, parse_error=False)
    rel, _ = tables.relative_table(tables.load_parsed_runs(paths).measurements)
    assert set(rel["verdict"]) == {"no interval (n=1)"}
    assert rel["perf_ci_low"].isna().all()
    assert "no interval (n=1)" in tables.relative_markdown(rel)


@pytest.mark.parametrize("name", ["relative.csv", "relative.md", "scaling.csv", "scaling.md", "measurements.csv"])
def test_fake_golden_tables(built, name):
    """The tables of the synthetic study, byte for byte (regenerate: EXECBENCH_REGEN_GOLDEN=1)."""
    _, _, files = built
    produced = (files["relative_csv"].parent / name).read_text()
    golden = GOLDEN / name
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced)
    assert golden.exists(), f"missing {golden}: run with EXECBENCH_REGEN_GOLDEN=1 once"
    assert produced == golden.read_text(), f"{name} differs from {golden} (intended? regenerate and review)"


def test_fake_baseline_is_the_hosts_only_bare_kind_mode_when_none_is_named_bare(tmp_path):
    # Ingested site logs may call bare metal "native" (mode_kind "bare"): it is the baseline there.
    paths = synthetic_runs.write_parsed_runs(tmp_path / "p", payloads=("cpusuite",), failed=False,
                                             unavailable_vm=False)
    for path in paths:
        doc = json.loads(Path(path).read_text())
        if doc["run"]["mode"] == "bare":
            doc["run"]["mode"] = "native"
            Path(path).write_text(json.dumps(doc))
    rel, uncompared = tables.relative_table(tables.load_parsed_runs(paths).measurements)
    assert not uncompared and set(rel["mode"]) == {"docker", "podman"}
    assert "native" not in set(rel["mode"])


def test_fake_run_that_left_its_cluster_host_is_kept_but_never_compared(tmp_path):
    # Two fan-out hosts, 3 repetitions each of bare/docker/podman cpusuite at 1 copy. Host A's
    # docker r1 was meant for A but SLURM ran it on B (run.json pairing "broken", hostname B).
    paths = []
    for label in ("A", "B"):
        paths += synthetic_runs.write_parsed_runs(
            tmp_path / "parsed" / label, payloads=("cpusuite",), copies=(1,), host_suffix=f"-{label}",
            failed=False, unavailable_vm=False, parse_error=False)
    for path in paths:
        doc = json.loads(Path(path).read_text())
        host = doc["run"]["host"]["hostname"]  # synth-host-A / synth-host-B
        doc["run"].update(cluster_host=host, pairing="ok")
        if doc["run"]["run_id"] == "cpusuite-docker-1c-r1-A":
            doc["run"]["host"]["hostname"] = "synth-host-B"
            doc["run"]["pairing"] = "broken"
        Path(path).write_text(json.dumps(doc))
    files = tables.write_tables(paths, tmp_path / "tables")

    excluded = json.loads(files["excluded"].read_text())
    assert [r["run_id"] for r in excluded["runs_pairing_broken"]] == ["cpusuite-docker-1c-r1-A"]
    reason = excluded["runs_pairing_broken"][0]["reason"]
    assert "'synth-host-A'" in reason and "'synth-host-B'" in reason and "pairing broken" in reason
    rel = read(files, "relative")
    score = rel[(rel["benchmark"] == "cpusuite") & (rel["mode"] == "docker")].set_index("host")
    # A: r2 and r3 only. B: its own 3 runs, not 4 (the stray run measured on B stays out).
    assert score.loc["synth-host-A", "n_mode"] == 2
    assert "cpusuite-docker-1c-r1-A" not in score.loc["synth-host-A", "mode_runs"]
    assert score.loc["synth-host-B", "n_mode"] == 3
    assert "cpusuite-docker-1c-r1-A" not in score.loc["synth-host-B", "mode_runs"]
    # the run itself is still in the measurements and in runs.csv, flagged
    assert "cpusuite-docker-1c-r1-A" in set(read(files, "measurements")["run_id"])
    runs = read(files, "runs").set_index("run_id")
    assert runs.loc["cpusuite-docker-1c-r1-A", "pairing"] == "broken"
    assert runs.loc["cpusuite-docker-1c-r1-A", "cluster_host"] == "synth-host-A"
    # and the report lists it under "Left out, and why"
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "figures.json").write_text("{}")
    sections = {title: rows for title, _, rows in
                report.ReportData(tmp_path / "tables", tmp_path / "figures").excluded_sections()}
    broken = next(rows for title, rows in sections.items() if "pairing broken" in title)
    assert [row[0] for row in broken] == ["cpusuite-docker-1c-r1-A"]
    assert broken[0][-2:] == ["synth-host-A", "synth-host-B"]


# --- cross-host summary ---------------------------------------------------------------------
# Host A: bare 9.9/10.0/10.1, docker 9.5/9.8/10.1 -> per-round ratios 0.95960, 0.98, 1.0; their
#   geometric mean 0.979726 -> 97.97 %; the log ratios spread (sd 2.1 %), so [.., > 100 %]: not significant.
# Host B: bare 19.8/20.0/20.2, docker 18.8/19.0/19.2 -> 0.949495, 0.95, 0.950495 -> 94.9997 %; tight: slower.
# Across hosts: median of {95.00, 97.97} = 96.486, min 95.00, max 97.97. Pooling the raw values
# instead would give (9.8 + 19.0)/2 ÷ (10.0 + 20.0)/2 = 96.0 (and 96.35 with A's values), so 96.49 shows it was not.
TWO_HOSTS = {"synth-host-A": {"bare": [9.9, 10.0, 10.1], "docker": [9.5, 9.8, 10.1]},
             "synth-host-B": {"bare": [19.8, 20.0, 20.2], "docker": [18.8, 19.0, 19.2]}}


def _two_host_paths(root, emulated_on=None):
    paths = []
    for host, values in TWO_HOSTS.items():
        values = dict(values, vm=[v * 0.05 for v in values["bare"]]) if emulated_on else values
        paths += synthetic_runs.write_fixed_value_runs(
            root / host, host, values, emulated_modes=("vm",) if host == emulated_on else ())
    return paths


def test_fake_cross_host_row_summarises_per_host_ratios_computed_by_hand(tmp_path):
    files = tables.write_tables(_two_host_paths(tmp_path / "parsed"), tmp_path / "tables")
    rel = read(files, "relative").set_index("host")
    geomean = lambda ratios: 100 * math.exp(sum(math.log(r) for r in ratios) / len(ratios))  # noqa: E731
    percent_a = geomean([9.5 / 9.9, 9.8 / 10.0, 10.1 / 10.1])
    percent_b = geomean([18.8 / 19.8, 19.0 / 20.0, 19.2 / 20.2])
    assert rel.loc["synth-host-A", "percent_of_bare"] == pytest.approx(percent_a, rel=1e-9)
    assert rel.loc["synth-host-B", "percent_of_bare"] == pytest.approx(percent_b, rel=1e-9)
    assert rel["verdict"].to_dict() == {"synth-host-A": "not significant", "synth-host-B": "slower"}

    cross = read(files, "cross_hosts")
    assert list(cross.columns) == tables.CROSS_HOST_COLUMNS
    assert len(cross) == 1  # one cell (cpusuite/score, 1 copy, docker) over two hosts
    row = cross.iloc[0]
    assert (row["payload"], row["benchmark"], row["metric"], row["copies"], row["mode"]) == (
        "cpusuite", "cpusuite", "score", 1, "docker")
    assert row["hosts"] == 2
    assert row["median_percent_of_bare"] == pytest.approx((percent_a + percent_b) / 2, rel=1e-9)
    assert row["min_percent_of_bare"] == pytest.approx(percent_b, rel=1e-9)
    assert row["max_percent_of_bare"] == pytest.approx(percent_a, rel=1e-9)
    assert pd.isna(row["q25_percent_of_bare"]) and pd.isna(row["q75_percent_of_bare"])  # < 4 hosts
    assert (row["n_slower"], row["n_faster"], row["n_not_significant"], row["n_no_interval"]) == (1, 0, 1, 0)
    assert not row["emulated"]
    assert row["host_list"] == "synth-host-A,synth-host-B"
    doc = json.loads(files["cross_hosts_json"].read_text())
    assert len(doc["rows"]) == 1 and doc["rows"][0]["median_percent_of_bare"] == pytest.approx(96.486, abs=1e-3)
    assert "never pooled" in doc["summarises"]
    md = files["cross_hosts_md"].read_text()
    assert "| cpusuite | cpusuite | score | 1 | docker | 2 | 96.49 | 95.00 | 97.97 | — | 1/0/1/0 |" in md


def test_fake_cross_host_emulated_flag_carries_from_any_host(tmp_path):
    # vm on A is emulated (TCG), vm on B is not: the cross-host vm row must say emulated.
    rel, _ = tables.relative_table(
        tables.load_parsed_runs(_two_host_paths(tmp_path, emulated_on="synth-host-A")).measurements)
    cross = tables.cross_host_table(rel).set_index("mode")
    assert cross.loc["vm", "hosts"] == 2
    assert cross.loc["vm", "emulated"] and cross.loc["vm", "flag"] == tables.EMULATED_FLAG
    assert not cross.loc["docker", "emulated"] and cross.loc["docker", "flag"] == ""
    # 5 % of bare on both hosts (vm values = 0.05 x bare, rep by rep)
    assert cross.loc["vm", "median_percent_of_bare"] == pytest.approx(5.0, rel=1e-9)


def _relative_rows(percents, verdict="slower"):
    return pd.DataFrame([
        {"host": f"h{i}", "payload": "db12", "benchmark": "db12", "metric": "score", "unit": "score",
         "higher_is_better": True, "copies": 1, "mode": "docker", "percent_of_bare": p, "verdict": verdict,
         "emulated": False} for i, p in enumerate(percents)])


def test_cross_host_quartiles_only_from_four_hosts():
    # 5 hosts, sorted 90 95 97 99 100: median 97; linear quartiles at positions (5-1)*0.25 = 1 and
    # (5-1)*0.75 = 3 of the sorted list -> q25 = 95, q75 = 99.
    row = tables.cross_host_table(_relative_rows([99.0, 90.0, 100.0, 95.0, 97.0])).iloc[0]
    assert (row["hosts"], row["median_percent_of_bare"], row["min_percent_of_bare"], row["max_percent_of_bare"]) == (
        5, 97.0, 90.0, 100.0)
    assert (row["q25_percent_of_bare"], row["q75_percent_of_bare"]) == (95.0, 99.0)
    assert row["n_slower"] == 5 and row["host_list"] == "h0,h1,h2,h3,h4"
    three = tables.cross_host_table(_relative_rows([90.0, 95.0, 97.0], verdict=stats.NO_INTERVAL_N1)).iloc[0]
    assert three["hosts"] == 3 and three["median_percent_of_bare"] == 95.0
    assert pd.isna(three["q25_percent_of_bare"]) and pd.isna(three["q75_percent_of_bare"])
    assert (three["n_no_interval"], three["n_slower"]) == (3, 0)


def test_geomean_rows_never_carry_the_median_note(built):
    # cases logs.md item 7: a geomean row's n_values counts its benchmarks, not several values of one run
    _, _, files = built
    rel = read(files, "relative")
    notes = rel.loc[rel["benchmark"] == tables.GEOMEAN, "note"].astype("string").fillna("")
    assert not notes.empty
    assert not notes.str.contains("their median").any()


def test_a_run_with_several_values_still_says_its_value_is_their_median():
    values = pd.DataFrame([
        {"host": "h", "payload": "p", "benchmark": "b", "metric": "m", "unit": "u", "higher_is_better": True,
         "copies": 1, "mode": mode, "mode_kind": mode, "run_id": f"{mode}-{rep}", "repetition": rep,
         "emulated": False, "run_status": "ok", "status": "ok", "copy": None, "value": v, "image_digest": "",
         "source_file": "", "source_line": None, "detail": ""}
        for mode in ("bare", "docker") for rep in (1, 2) for v in (10.0, 10.5)])
    rel, _ = tables.relative_table(values)
    assert "run value = their median" in rel.iloc[0]["note"]


@pytest.mark.parametrize("low, high, verdict, printed", [
    (0.997481, 0.999987, "slower", "[99.748, 99.999]"),  # cases logs.md item 9: never [99.75, 100.00]
    (1.00004, 1.02, "faster", "[100.004, 102.000]"),
    (0.95, 0.99, "slower", "[95.00, 99.00]"),
])
def test_printed_interval_agrees_with_its_verdict(low, high, verdict, printed):
    row = {"host": "h", "payload": "p", "benchmark": "b", "metric": "m", "copies": 1, "mode": "docker",
           "relative_performance": (low + high) / 2, "perf_ci_low": low, "perf_ci_high": high, "n_mode": 3,
           "n_bare": 3, "n_pairs": 3, "half_width_pct": 1.0, "mde_pct": 1.3, "verdict": verdict, "flag": ""}
    assert printed in tables.relative_markdown(pd.DataFrame([row]))
    assert report._ci(low, high, verdict) == printed.replace(", ", " %, ").replace("]", " %]")


def test_r8_a_run_json_with_a_huge_repetition_is_listed_not_fatal(tmp_path):
    # issue 13 R8: repetition 99999999999999999999999 made combine_tables die with OverflowError (Int64)
    paths = synthetic_runs.write_parsed_runs(tmp_path / "parsed")
    doc = json.loads(Path(paths[0]).read_text())
    doc["run"]["repetition"] = 99999999999999999999999
    Path(paths[0]).write_text(json.dumps(doc))
    files = tables.write_tables(paths, tmp_path / "tables")
    excluded = json.loads(files["excluded"].read_text())
    (bad,) = excluded["unreadable_parsed_files"]
    assert bad["path"] == str(paths[0]) and "run.repetition an integer in 1..1000000" in bad["reason"]
    assert len(pd.read_csv(files["runs"])) == len(paths) - 1


def test_fio_iops_at_a_fixed_block_size_is_shown_once_as_bandwidth():
    from execbench.tables import same_quantity_once

    rows = []
    for run, (bw, iops) in enumerate([(100.0, 25600.0), (110.0, 28160.0)], 1):  # 4 KiB blocks: iops = bw * 256
        for metric, value in (("bandwidth", bw), ("iops", iops)):
            rows.append({"host": "h", "payload": "fio", "benchmark": "randread.read", "metric": metric,
                         "copies": 1, "mode": "bare", "run_id": f"r{run}", "value": value})
        # a mixed block size (bssplit): IOPS / bandwidth varies, both kept
        for metric, value in (("bandwidth", bw), ("iops", iops * (1 + 0.2 * run))):
            rows.append({"host": "h", "payload": "fio", "benchmark": "mixed.read", "metric": metric,
                         "copies": 1, "mode": "bare", "run_id": f"r{run}", "value": value})
    values, dropped = same_quantity_once(pd.DataFrame(rows))
    shown = sorted(set(zip(values["benchmark"], values["metric"])))
    assert shown == [("mixed.read", "bandwidth"), ("mixed.read", "iops"), ("randread.read", "bandwidth")]
    assert [(d["benchmark"], d["metric"]) for d in dropped] == [("randread.read", "iops")]
    assert "iops / bandwidth = 256" in dropped[0]["reason"]


def test_clock_check_flags_a_coarse_clock_and_a_benchmark_that_waited():
    from execbench.tables import clock_check

    ok = {"metric": "run_time", "unit": "s", "value": 2.5, "status": "ok", "copy": 0, "benchmark": "bzip2",
          "extra": {"cpu_s": 2.45, "time_quantum_s": 1e-6}}
    assert clock_check(ok)["flags"] == "" and clock_check(ok)["cpu_per_wall"] == pytest.approx(0.98)
    # povray at smoke size as found: 0.12 s of CPU in 0.79 s of wall; run time printed in ms
    waited = dict(ok, value=0.79, extra={"cpu_s": 0.12, "time_quantum_s": 1e-3})
    assert clock_check(waited)["flags"] == "CPU/wall 0.15 < 0.9; resolution 0.13 % > 0.1 %"
    assert clock_check(dict(ok, metric="ratio")) is None and clock_check(dict(ok, status="failed")) is None


def test_cpusuite_records_carry_the_printed_step_of_their_run_time(tmp_path):
    from execbench.parsers.cpusuite import _printed_quantum

    assert _printed_quantum("0.231") == pytest.approx(1e-3)
    assert _printed_quantum("12.345678") == pytest.approx(1e-6)
    assert _printed_quantum("7") == 1.0 and _printed_quantum("--") is None


def test_the_default_control_none_is_no_control():
    """config fills modes.<name>.control with "none": such a mode is an answer, not a control
    (else every mode of a study reads as a control and the report finds no answer)."""
    from execbench.tables import _run_row

    run = {"run_id": "r", "mode": "docker", "payload": "db12", "copies": 1, "repetition": 1}
    assert _run_row({**run, "mode_settings": {"kind": "docker", "control": "none"}}, "p")["control"] == ""
    assert _run_row({**run, "mode_settings": {"kind": "docker"}}, "p")["control"] == ""
    assert _run_row({**run, "mode_settings": {"kind": "bare", "control": "positive"}}, "p")["control"] == "positive"
