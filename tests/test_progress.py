"""The per-run progress line (execbench.progress): run i of N, the cell, elapsed and ETA weighted by
the plan's estimates, failures so far."""

import io
import json

from execbench import plan, progress
from execbench.config import RunCell


def _estimates(*walls):
    cells = [RunCell("db12", mode, 1, 1, order_index=i) for i, mode in enumerate(("bare", "docker", "podman"))]
    return [plan.RunEstimate(c, w, 0, "reference") for c, w in zip(cells, walls)]


def test_eta_weights_the_runs_left_by_their_estimates_and_this_invocations_pace():
    est = _estimates(10.0, 20.0, 30.0)
    p = progress.StudyProgress(est, stream=io.StringIO(), started=1000.0)
    # the first run (10 estimated s) took 20 real s: pace 0.5; 50 estimated s left -> 100 s
    line = p.line(est[0].cell, "ok", 20.0, now=1020.0)
    assert line == ("run 1/3 db12/bare/1c/r1: ok in 20.0 s | elapsed 00:20, ETA 01:40 | failures so far 0")


def test_failures_are_counted_and_named_and_unknown_lengths_count_as_the_mean():
    est = _estimates(10.0, None, 30.0)  # the unknown run weighs (10 + 30) / 2
    out = io.StringIO()
    p = progress.StudyProgress(est, stream=out, started=0.0)
    p.line(est[0].cell, "ok", 10.0, now=10.0)
    p.run_finished(est[0].cell, "ok", 10.0)
    text = p.line(est[1].cell, "failed", 5.0, "copy 0: timed out", now=30.0)
    # 30 of 60 estimated s done in 30 s: 30 s left
    assert text == ("run 2/3 db12/docker/1c/r1: failed in 5.0 s (copy 0: timed out) | elapsed 00:30, ETA 00:30 | "
                    "failures so far 1 (last: db12/docker/1c/r1)")
    assert out.getvalue().startswith("run 1/3 db12/bare/1c/r1: ok in 10.0 s")


def test_runs_done_before_a_resume_count_as_done_but_not_in_the_pace(tmp_path):
    est = _estimates(10.0, 20.0, 30.0)
    p = progress.StudyProgress(est, stream=io.StringIO(), log=tmp_path / "progress.log", started=0.0,
                               done_before={est[0].cell.rel_dir})
    # 20 estimated s in 10 real s this invocation: pace 2; 30 left -> 15 s
    line = p.line(est[1].cell, "ok", 10.0, now=10.0)
    assert line.startswith("run 2/3 ") and "ETA 00:15" in line
    p.run_finished(est[1].cell, "ok", 10.0)
    assert "run 2/3 db12/docker/1c/r1: ok" in (tmp_path / "progress.log").read_text()
    state = p.state()
    assert state["done"] == {"db12/docker/1c/r1": "ok"} and state["done_before"] == ["db12/bare/1c/r1"]
    json.dumps(state)  # the per-run jobs keep it in a JSON file
