"""Follow a study while it runs: one line per finished run.

    run 12/132 cpusuite/docker/2c/r1: ok in 12.3 s | elapsed 03:21, ETA 10:42 | failures so far 1 (db12/docker/1c/r1)

The ETA is tqdm's (tqdm.format_meter, no terminal codes of our own) over the plan's estimated
seconds (execbench.plan.estimate): each finished run advances the meter by its *estimated*
seconds, so the rate is estimated work done per real second, and the time left weights each run
still to come by how long it is expected to take (a CPU-suite run more than a DB12 one),
corrected by how fast this invocation has really gone. Runs finished before this invocation
(a resumed study) count as done but not in the rate. A run of unknown length counts as the mean
of the known ones.

Two ways to use it:
- in one process that runs the runs one after the other (a host chain job):

      progress = StudyProgress(plan.estimate(config, plan.read_history([results])), log=path)
      for cell in chain:
          record = run_cell(config, cell)
          progress.run_finished(cell, record["status"], record["wall_s"], record["reason"])

- one process per run (the workflow's run jobs today): `report_run(config, cell, record)` keeps the
  invocation's state in <results>/.execbench/progress.json between the processes;
  `start_invocation(results)` (the workflow's main process, at its start) resets it.
Every line also goes to <results>/logs/progress.log (`tail -f` it from another terminal).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import layout
from .fsutil import atomic_write_json

STATE = ".execbench/progress.json"
LOG = "logs/progress.log"
FAILED = ("failed", "unavailable")


def _key(cell) -> str:
    return cell.rel_dir


@dataclass
class StudyProgress:
    """The progress of one invocation over the run matrix (see the module docstring).

    estimates: plan.RunEstimate per run, in the executed order; done_before: rel_dirs already
    finished when the invocation started; started: time.time() of the invocation's start."""

    estimates: list
    stream: object = None
    log: Path | None = None
    started: float = field(default_factory=time.time)
    done_before: set = field(default_factory=set)
    done: dict = field(default_factory=dict)  # rel_dir -> status, this invocation
    failures: list = field(default_factory=list)  # rel_dirs whose run failed or was unavailable

    def __post_init__(self):
        known = [e.wall_s for e in self.estimates if e.wall_s is not None]
        fallback = sum(known) / len(known) if known else 1.0
        self._weight = {_key(e.cell): (e.wall_s if e.wall_s is not None else fallback) for e in self.estimates}
        self._index = {_key(e.cell): i for i, e in enumerate(self.estimates, start=1)}

    @property
    def total(self) -> int:
        return len(self.estimates)

    def line(self, cell, status: str, wall_s: float | None, reason: str = "", now: float | None = None) -> str:
        """The progress line after `cell` finished (does not record it)."""
        now = time.time() if now is None else now
        finished = set(self.done) | self.done_before | {_key(cell)}
        work_total = sum(self._weight.values())
        work_before = sum(self._weight.get(k, 0.0) for k in self.done_before)
        work_done = sum(self._weight.get(k, 0.0) for k in finished)
        meter = tqdm.format_meter(work_done, work_total, max(now - self.started, 1e-6), initial=work_before,
                                  bar_format="elapsed {elapsed}, ETA {remaining}")
        failures = self.failures + ([_key(cell)] if status in FAILED else [])
        fail_text = f"failures so far {len(failures)}" + (f" (last: {failures[-1]})" if failures else "")
        wall = "" if wall_s is None else f" in {wall_s:.1f} s"
        why = f" ({reason[:80]})" if status != "ok" and reason else ""
        return (f"run {len(finished)}/{self.total} {_key(cell)}: {status}{wall}{why} | {meter} | {fail_text}")

    def run_finished(self, cell, status: str, wall_s: float | None, reason: str = "") -> str:
        """Record `cell` as finished, print its line (stream, default stderr) and append it to the log."""
        text = self.line(cell, status, wall_s, reason)
        self.done[_key(cell)] = status
        if status in FAILED:
            self.failures.append(_key(cell))
        print(text, file=self.stream or sys.stderr, flush=True)
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log, "a") as fh:
                fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
        return text

    def state(self) -> dict:
        return {"started": self.started, "done_before": sorted(self.done_before), "done": self.done,
                "failures": self.failures}


def start_invocation(config: dict) -> Path:
    """Reset <results>/.execbench/progress.json at a workflow's start: the runs already finished
    count as done before it, the clock starts now."""
    from .config import run_matrix

    results = config["results"]
    finished = {c.rel_dir for c in run_matrix(config) if layout.run_json(results, c).exists()}
    path = Path(results) / STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"started": time.time(), "done_before": sorted(finished), "done": {}, "failures": []})
    return path


def report_run(config: dict, cell, record: dict, stream=None) -> str:
    """The run jobs' call: the line of a finished run, with the invocation's state kept in
    <results>/.execbench/progress.json (started afresh when missing or unreadable)."""
    from . import plan

    results = config["results"]
    path = Path(results) / STATE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {"started": time.time() - (record.get("wall_s") or 0), "done_before": [], "done": {}, "failures": []}
    chain = [e for e in plan.estimate(config, plan.read_history([results])) if e.cell.host == cell.host]
    progress = StudyProgress(chain, stream=stream, log=Path(results) / LOG, started=saved["started"],
                             done_before=set(saved["done_before"]), done=dict(saved["done"]),
                             failures=list(saved["failures"]))
    text = progress.run_finished(cell, record["status"], record.get("wall_s"), record.get("reason") or "")
    atomic_write_json(path, progress.state())
    return text


def terminal_stream(fd: int = 3):
    """File descriptor `fd` as a text stream when the caller opened it (the run rule's `3>&2`: the
    terminal Snakemake was started from), else stderr."""
    try:
        os.fstat(fd)
    except OSError:
        return sys.stderr
    return os.fdopen(os.dup(fd), "w", buffering=1)
