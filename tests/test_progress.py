"""Following a study (execbench.progress): read from the run directories and the chain record, one
line per finished run (run i of N, the run, ETA weighted by the plan's estimates, failures)."""

import io
import json
from datetime import datetime, timezone

import pytest

from execbench import layout, plan, progress
from execbench.config import RunCell, compose_config, load_config

SITE = "study: {repetitions: 2, copies: [1]}\nmodes: {bare: {}, docker: {}}\npayloads: {db12: {}}\n"
T0 = 1_800_000_000.0  # POSIX seconds of the first run's start in these tests


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text(SITE + f"results: {tmp_path / 'results'}\n")
    config = load_config(compose_config([site])[0])
    # every run estimated at 10 s (reference times are not what these tests are about)
    estimates = [plan.RunEstimate(e.cell, 10.0, 0, "reference") for e in plan.estimate(config, plan.History({}, {}, {}, 0))]
    return config, estimates


def _finish(config, cell, status="ok", wall_s=20.0, start=T0, reason=""):
    path = layout.run_json(config["results"], cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": status, "reason": reason, "wall_s": wall_s, "started_utc": _utc(start),
                                "ended_utc": _utc(start + wall_s)}))


def test_finished_runs_advance_the_meter_by_their_estimates_at_the_measured_pace(study):
    config, estimates = study
    assert len(estimates) == 4  # db12 x (bare, docker) x 1 copy x 2 rounds
    _finish(config, estimates[0].cell, wall_s=20.0)  # estimated 10 s, took 20: pace 0.5
    (chain,) = progress.study_state(config, estimates)
    assert chain.name == "local" and chain.total == 4 and not chain.done
    line = chain.line(estimates[0].cell.rel_dir, now=T0 + 20.0)
    # 30 estimated s left at pace 0.5: 60 s
    assert line == (f"local: run 1/4 {estimates[0].cell.rel_dir} ok in 20.0 s |  25%|██▌       | ETA 01:00 | "
                    "up 00:20 | failed 0, unavailable 0")


def test_a_run_directory_without_run_json_is_the_run_under_way(study):
    config, estimates = study
    _finish(config, estimates[0].cell)
    under_way = layout.raw_dir(config["results"], estimates[1].cell)
    (under_way / "copy0").mkdir(parents=True)
    (under_way / "copy0" / "db12.log").write_text("started\n")
    (chain,) = progress.study_state(config, estimates)
    assert [r for r, _ in chain.running] == [estimates[1].cell.rel_dir]
    assert f"1/4 runs done, now {estimates[1].cell.rel_dir} (" in chain.status_line()


def test_failed_and_unavailable_runs_are_counted_apart_and_the_last_one_named(study):
    config, estimates = study
    _finish(config, estimates[0].cell, "unavailable", 0.2, T0, "no usable KVM")
    _finish(config, estimates[1].cell, "failed", 5.0, T0 + 1, "copy 0: timed out")
    (chain,) = progress.study_state(config, estimates)
    assert chain.failures_text() == f"failed 1, unavailable 1 (last {estimates[1].cell.rel_dir}: copy 0: timed out)"


def test_adaptive_rounds_count_as_they_appear_and_the_chain_record_ends_the_chain(study):
    config, estimates = study
    config["study"]["adaptive"] = {"max_repetitions": 4, "target_half_width_pct": 1.0}
    for i, e in enumerate(estimates):
        _finish(config, e.cell, start=T0 + 30 * i)
    (chain,) = progress.study_state(config, estimates)
    # the fixed rounds are done, but the chain may still add a round: not done without its record
    assert not chain.done
    extra = RunCell("db12", "bare", 1, 3)
    _finish(config, extra, start=T0 + 200)
    (chain,) = progress.study_state(config, estimates)
    assert chain.adaptive == [extra.rel_dir] and chain.total == 5
    assert chain.line(extra.rel_dir).startswith(f"local: run 5/5 (+1 adaptive) {extra.rel_dir} ok")
    record = {"ended_utc": _utc(T0 + 300), "decisions": [
        {"round": 3, "cells": ["db12/1c"], "added": True, "why": "half-width above 1 %: db12/1c docker ±1.40 %"}]}
    path = progress.chain_record_path(config["results"], None)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    (chain,) = progress.study_state(config, estimates)
    assert chain.done and chain.status_line().startswith("local: 5/5 (+1 adaptive) runs done, finished")
    assert progress.decision_lines(chain) == [
        "local: round 3 added for db12/1c: half-width above 1 %: db12/1c docker ±1.40 %"]


def test_follow_prints_one_line_per_run_as_it_finishes_and_stops_when_the_study_is_done(study, monkeypatch):
    config, estimates = study
    monkeypatch.setattr(plan, "estimate", lambda config, history, cores=None: estimates)
    pending = [e.cell for e in estimates]

    def sleep(_seconds):  # one run finishes between two looks at the results directory
        _finish(config, pending.pop(0), start=T0 + 30 * (4 - len(pending)))

    out = io.StringIO()
    progress.follow(config, interval_s=0, stream=out, sleep=sleep, max_polls=10)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("local: 0/4 runs done, not started")
    assert [line.split(" | ")[0] for line in lines[1:5]] == [
        f"local: run {i}/4 {e.cell.rel_dir} ok in 20.0 s" for i, e in enumerate(estimates, start=1)]
    assert lines[-1].startswith("local: 4/4 runs done, finished") and not pending


def test_a_payload_run_benchmark_by_benchmark_shows_its_unit_under_way(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text("study: {repetitions: 1, copies: [1]}\nmodes: {bare: {}}\n"
                    f"payloads: {{cpusuite: {{size: standard}}}}\nresults: {tmp_path / 'results'}\n")
    config = load_config(compose_config([site])[0])
    estimates = [plan.RunEstimate(e.cell, 600.0, 0, "reference") for e in plan.estimate(config, plan.History({}, {}, {}, 0))]
    run_dir = layout.raw_dir(config["results"], estimates[0].cell)
    for name in ("400.perl", "401.bzip2"):  # the suite's first two benchmarks have started
        (run_dir / f"unit-{name}" / "copy0").mkdir(parents=True)
        (run_dir / f"unit-{name}" / "copy0" / "cpusuite.log").write_text("x\n")
    (chain,) = progress.study_state(config, estimates)
    assert f"now {estimates[0].cell.rel_dir} (" in chain.status_line() and ", unit 2 of 9)" in chain.status_line()


def test_runs_seen_in_one_look_each_get_the_numbers_of_their_own_end(study):
    config, estimates = study
    _finish(config, estimates[0].cell, "ok", 10.0, T0)
    _finish(config, estimates[1].cell, "unavailable", 0.2, T0 + 10, "no usable KVM")
    (chain,) = progress.study_state(config, estimates)
    first, second = (chain.line(e.cell.rel_dir) for e in estimates[:2])
    assert first.endswith("| failed 0, unavailable 0") and "| up 00:10 |" in first
    assert second.endswith(f"| failed 0, unavailable 1 (last {estimates[1].cell.rel_dir}: no usable KVM)")
