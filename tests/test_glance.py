"""The report's first screen (execbench.glance): one line per mode and workload class, verdicts in
plain words, cells without a number saying why, the controls line."""

import json
import re

import pytest
import synthetic_runs

from execbench import glance, tables


def _screen(tmp_path, paths, controls=None):
    tables.write_tables(paths, tmp_path / "tables")
    if controls is not None:
        (tmp_path / "tables" / "controls.json").write_text(json.dumps(controls))
    return glance.first_screen(tables.read_tables(tmp_path / "tables"))


def _mark_control(paths, mode, kind):
    """Make `mode`'s parsed runs a control of `kind` (modes.<name>.control), the others answers."""
    for path in paths:
        doc = json.loads(path.read_text())
        doc["run"]["mode_settings"]["control"] = kind if doc["run"]["mode"] == mode else "none"
        path.write_text(json.dumps(doc))


def _block(screen, mode):
    return next(b for b in screen.blocks if b.mode == mode)


def test_every_mode_gets_one_line_per_workload_class_in_reading_order(tmp_path):
    screen = _screen(tmp_path, synthetic_runs.write_parsed_runs(tmp_path / "parsed"))
    docker = _block(screen, "docker")
    assert [line.label for line in docker.lines] == ["CPU suite (HS06-like)", "HEP chain", "start-up"]
    cpu = docker.lines[0]
    # the synthetic docker factor is 0.99: about -1 %, whole interval below 0 at both copy counts
    assert cpu.text.startswith("−1.0") and " [" in cpu.text and "at 1 copy" in cpu.text and "at 2 copies" in cpu.text
    assert cpu.verdict.startswith("costs ") and cpu.tone == "cost"
    startup = docker.lines[2]
    assert "ms per job" in startup.text and "%" not in startup.text  # time added per start, never a percentage
    assert startup.verdict.startswith("adds ") and " ms per job" in startup.verdict
    assert [b.mode for b in screen.blocks] == ["docker", "podman", "vm"]  # bare is the baseline, not a block


def test_a_mode_that_never_ran_says_why_in_one_line(tmp_path):
    screen = _screen(tmp_path, synthetic_runs.write_parsed_runs(tmp_path / "parsed"))
    vm = _block(screen, "vm")
    assert vm.lines == [] and vm.not_measured == "no usable KVM: /dev/kvm is PVM, emulation not allowed"
    text = glance.render_text(screen)
    assert "VM: not measured — no usable KVM: /dev/kvm is PVM, emulation not allowed" in text
    assert screen.headline.startswith("Every payload was compared with bare metal in Docker and Podman; "
                                      "VM not measured.")


def test_a_payload_without_a_number_in_a_mode_says_why(tmp_path):
    # DB12 ran in bare metal and docker but every docker run failed: the docker block says why
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [10.0, 10.1, 9.9], "docker": [9.9, 10.0, 9.8]})
    for rep in (1, 2):
        run = synthetic_runs._run("db12", "bare", 1, rep, order=10 + rep)
        paths.append(synthetic_runs._write(tmp_path / "parsed", run,
                                           [synthetic_runs._rec("db12", "score", 20.0 + rep, "HS06", True, "x")], []))
        run = synthetic_runs._run("db12", "docker", 1, rep, "failed", "copy 0: timed out", order=20 + rep)
        paths.append(synthetic_runs._write(tmp_path / "parsed", run, [], []))
    screen = _screen(tmp_path, paths)
    db12 = next(line for line in _block(screen, "docker").lines if line.label == "DB12")
    assert db12.tone == "none" and db12.text == "no number"
    assert db12.verdict.startswith("every run failed: copy 0: timed out (2 of 2 runs)")


@pytest.mark.parametrize("docker, words, tone", [
    ([9.98, 10.0, 10.02], "no measurable cost (a cost above", "ok"),  # interval holds 0, narrow
    ([9.0, 10.0, 11.0], "inconclusive: a cost up to", "unclear"),  # interval holds 0, wide
    ([9.4, 9.5, 9.6], "costs 5.0 %", "cost"),
    ([10.4, 10.5, 10.6], "faster by 5.0 %", "faster"),
])
def test_verdict_words_follow_the_interval(tmp_path, docker, words, tone):
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [9.98, 10.0, 10.02], "docker": docker})
    line = _block(_screen(tmp_path, paths), "docker").lines[0]
    assert line.verdict.startswith(words) and line.tone == tone


def test_an_emulated_guest_is_never_read_as_vm_overhead(tmp_path):
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [9.9, 10.0, 10.1], "vm": [2.0, 2.1, 2.2]},
                                                  emulated_modes=("vm",))
    line = _block(_screen(tmp_path, paths), "vm").lines[0]
    assert line.tone == "emulated" and line.verdict == "emulated (TCG): not a VM overhead"


def test_without_controls_the_line_says_so_and_gives_the_interval_widths(tmp_path):
    screen = _screen(tmp_path, synthetic_runs.write_parsed_runs(tmp_path / "parsed"))
    assert screen.controls.startswith("No controls in this study")
    # the paired analysis's minimum detectable effect over the cells the first screen shows
    assert "smallest detectable effect" in screen.controls and "over 8 headline cells" in screen.controls


def test_controls_json_is_read_into_one_line(tmp_path):
    controls = {
        "negative": [{"payload": "cpusuite", "copies": 1, "mode": "bare-aa", "effect_percent": 0.1,
                      "ci_low_percent": -0.4, "ci_high_percent": 0.6, "verdict": "not significant"},
                     {"payload": "hepchain", "copies": 1, "mode": "bare-aa", "effect_percent": 0.9,
                      "ci_low_percent": 0.2, "ci_high_percent": 1.6, "verdict": "faster"}],
        "positive": [{"payload": "cpusuite", "copies": 1, "mode": "bare-quota98", "injected_percent": -2.0,
                      "effect_percent": -2.1, "ci_low_percent": -2.6, "ci_high_percent": -1.6, "verdict": "slower"}],
        "resolving": [{"payload": "cpusuite", "copies": 1, "mode": "docker", "half_width_percent": 0.5,
                       "mde_percent": 0.7},
                      {"payload": "hepchain", "copies": 1, "mode": "docker", "half_width_percent": 1.1,
                       "mde_percent": 1.6}],
        "expected_false_positive_rate": 0.05,
    }
    line = _screen(tmp_path, synthetic_runs.write_parsed_runs(tmp_path / "parsed"), controls).controls
    assert line == ("Controls: A/A bare vs bare: 1 of 2 cells significant (expected about 5 %); known slowdown "
                    "−2.0 % detected in 1 of 1 cells, measured −2.1 % to −2.1 %; smallest detectable effect "
                    "0.7–1.6 % per cell.")


def test_context_lines_come_from_registered_functions(tmp_path, monkeypatch):
    monkeypatch.setattr(glance, "CONTEXT_LINES", [lambda t: [f"host audit: {len(t.runs)} runs looked at"]])
    screen = _screen(tmp_path, synthetic_runs.write_parsed_runs(tmp_path / "parsed"))
    assert screen.context == ["host audit: 55 runs looked at"]


def test_a_cell_too_wide_to_resolve_two_percent_is_not_called_no_cost():
    # interval [-1.5, +3.5] would read "no measurable cost"; its MDE (3.4 %) says 1-3 % is not resolved
    words, tone = glance.verdict_words(1.0, -1.5, 3.5, "not significant", False, mde=3.4, rounds_needed=7.2)
    assert tone == "unclear" and "no measurable cost" not in words
    assert words == ("not resolved: only effects above 3.4 % would be detected (a cost above 1.5 % is ruled out; "
                     "about 8 rounds would resolve 2 %)")
    words, tone = glance.verdict_words(1.0, -9.0, 11.0, "not significant", False, mde=14.0, rounds_needed=40)
    assert words == "inconclusive: a cost up to 9.0 % is not ruled out" and tone == "unclear"
    # a resolved cell (MDE below 2 %) keeps the plain verdict; so do tables without the column
    assert glance.verdict_words(0.1, -0.9, 1.1, "not significant", False, mde=1.3)[1] == "ok"
    assert glance.verdict_words(0.1, -0.9, 1.1, "not significant", False, mde=float("nan"))[1] == "ok"
    # a cost the interval shows is a cost, whatever the MDE
    assert glance.verdict_words(-5.0, -6.0, -4.0, "slower", False, mde=3.0)[1] == "cost"


def test_the_first_screen_reads_mde_pct_from_the_relative_table(tmp_path):
    # the relative table's resolving-power columns (issue 17: n_pairs, half_width_pct, mde_pct,
    # rounds_needed) written into a table that has none, as the paired analysis writes them
    import pandas as pd

    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [9.98, 10.0, 10.02], "docker": [9.98, 10.0, 10.02]})
    tables.write_tables(paths, tmp_path / "tables")
    rel_path = tmp_path / "tables" / "relative.csv"
    rel = pd.read_csv(rel_path)
    rel["n_pairs"], rel["half_width_pct"], rel["mde_pct"], rel["rounds_needed"] = 3, 2.9, 4.2, 12
    rel.to_csv(rel_path, index=False)
    screen = glance.first_screen(tables.read_tables(tmp_path / "tables"))
    line = _block(screen, "docker").lines[0]
    assert line.tone == "unclear" and line.verdict.startswith("not resolved: only effects above 4.2 %")
    assert "cannot resolve a 2 % effect" in screen.controls and "smallest detectable effect 4.2–4.2 %" in screen.controls


def test_the_headline_tallies_the_verdicts_and_never_calls_an_all_inconclusive_study_answered(tmp_path):
    wide = synthetic_runs.write_fixed_value_runs(tmp_path / "wide" / "parsed", "synth-host",
                                                 {"bare": [9.98, 10.0, 10.02], "docker": [9.0, 10.0, 11.0]})
    screen = _screen(tmp_path / "wide", wide)
    assert screen.headline.startswith("No firm answer yet: no comparison is resolved.")
    # the paired analysis's MDE, once per line: why "inconclusive" is not "no cost"
    line = _block(screen, "docker").lines[0]
    assert re.fullmatch(r"inconclusive: a cost up to \d+\.\d % is not ruled out \(this study detects only effects "
                        r"above \d+\.\d % here\)", line.verdict), line.verdict
    assert screen.headline.endswith("Of 1 comparison, 1 is inconclusive.") and not screen.answered
    narrow = synthetic_runs.write_fixed_value_runs(tmp_path / "narrow" / "parsed", "synth-host",
                                                   {"bare": [9.98, 10.0, 10.02], "docker": [9.4, 9.5, 9.6]})
    screen = _screen(tmp_path / "narrow", narrow)
    assert screen.headline.startswith("Every payload was compared with bare metal.")
    assert screen.headline.endswith("Of 1 comparison, 1 shows a cost.") and screen.answered


def test_the_headline_does_not_claim_every_payload_compared_when_a_cell_has_no_number(tmp_path):
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [9.98, 10.0, 10.02], "docker": [9.4, 9.5, 9.6]})
    for rep in (1, 2):
        run = synthetic_runs._run("db12", "bare", 1, rep, order=10 + rep)
        paths.append(synthetic_runs._write(tmp_path / "parsed", run,
                                           [synthetic_runs._rec("db12", "score", 20.0 + rep, "HS06", True, "x")], []))
        run = synthetic_runs._run("db12", "docker", 1, rep, "failed", "copy 0: timed out", order=20 + rep)
        paths.append(synthetic_runs._write(tmp_path / "parsed", run, [], []))
    screen = _screen(tmp_path, paths)
    assert screen.headline.startswith("Part of the study has no number (why: below).")
    assert screen.headline.endswith("Of 2 comparisons, 1 shows a cost, 1 has no number.")


def test_a_failed_a_a_control_makes_the_headline_say_the_study_is_not_to_be_trusted(tmp_path):
    # bare-aa is bare metal again; here it comes out 5 % slower in every round: the host changed
    # between the two labels, so no verdict of this study can be trusted
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host", {
        "bare": [10.0, 10.2, 9.8], "docker": [9.4, 9.6, 9.2], "bare-aa": [9.5, 9.69, 9.31]})
    _mark_control(paths, "bare-aa", "negative")
    screen = _screen(tmp_path, paths)
    assert screen.headline.startswith("Not to be trusted yet: the A/A control (bare metal against itself) found "
                                      "a difference in 1 cell where there is none.")
    assert not screen.answered and [b.mode for b in screen.blocks] == ["docker"]
    assert screen.controls.startswith("Controls: A/A bare vs bare: 1 of 1 cells significant")


def test_db12_fastest_slice_is_shown_under_db12_and_not_tallied_as_a_comparison(tmp_path):
    # DB12 itself noisy (-20 %..+20 % per round), its fastest-slice estimate steady at -1 %:
    # the line keeps DB12's verdict and shows the robust estimate beneath it, one comparison
    from synthetic_runs import _rec, _run, _write

    paths, order = [], 0
    db12 = {"bare": [30.0, 30.0, 30.0], "docker": [24.0, 36.0, 30.0]}
    fastest = {"bare": [40.0, 40.4, 39.6], "docker": [39.6, 40.0, 39.2]}
    for mode in ("bare", "docker"):
        for rep in (1, 2, 3):
            order += 1
            run = _run("db12", mode, 1, rep, order=order)
            records = [_rec("DB12", "db12", db12[mode][rep - 1], "DB12", True, "copy*/db12.json"),
                       _rec("DB12", "db12_fastest_slice", fastest[mode][rep - 1], "DB12", True,
                            "copy*/db12-slices.json")]
            paths.append(_write(tmp_path / "parsed", run, records, []))
    screen = _screen(tmp_path, paths)
    [line] = _block(screen, "docker").lines
    assert line.label == "DB12" and line.tone == "unclear"  # DB12 stays the headline
    assert line.robust.startswith("at its fastest slices' pace") and "−1.0" in line.robust
    assert "costs 1.0 %" in line.robust
    assert screen.headline.endswith("Of 1 comparison, 1 is inconclusive.")
    assert "DB12 at its fastest slices' pace" in glance.render_text(screen)


def test_a_missed_positive_control_makes_the_headline_say_the_study_cannot_resolve_it(tmp_path):
    # bare-quota is a known slowdown; here it comes out within the noise (not significant):
    # the study cannot see an effect of that size, and the first screen must not read as answered
    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host", {
        "bare": [10.0, 10.2, 9.8], "docker": [9.4, 9.59, 9.21], "bare-quota": [9.0, 11.0, 9.6]})
    _mark_control(paths, "bare-quota", "positive")
    screen = _screen(tmp_path, paths)
    assert screen.headline.startswith("Not resolving enough: the known slowdown (positive control) was not "
                                      "detected in 1 of 1 cell")
    assert not screen.answered  # even though docker's line shows a cost
    assert _block(screen, "docker").lines[0].tone == "cost"
    assert "detected in 0 of 1 cells" in screen.controls and "NOT as it must" in screen.controls


def test_the_host_audit_is_no_comparison_line_and_not_tallied(tmp_path):
    from synthetic_runs import _rec, _run, _write

    paths = synthetic_runs.write_fixed_value_runs(tmp_path / "parsed", "synth-host",
                                                  {"bare": [10.0, 10.2, 9.8], "docker": [9.4, 9.59, 9.21]})
    for order, mode in enumerate(("bare", "docker"), start=100):
        run = _run("audit", mode, 1, 1, order=order)
        paths.append(_write(tmp_path / "parsed", run, [_rec("audit", "findings", 0.0, "findings", False,
                                                             "copy0/audit.json")], []))
    screen = _screen(tmp_path, paths)
    assert [line.label for line in _block(screen, "docker").lines] == ["CPU suite (HS06-like)"]
    assert screen.headline.endswith("Of 1 comparison, 1 shows a cost.")
