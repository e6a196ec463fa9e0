"""Follow a study while it runs, from what it leaves on disk (`python -m execbench follow`,
`bash scripts/run.sh --follow`, from a second terminal or a login node).

One line per finished run, per host chain:

    local: run 12/48 cpusuite/docker/2c/r1 ok in 23.1 s | 41%|████▏     | ETA 07:10 | up 05:02 | failed 0, unavailable 1 (last db12/vm/1c/r1: no usable KVM)

Where the numbers come from (never from Snakemake's job counts: one Snakemake job runs a whole
host chain, issue 17):
  * the plan (execbench.plan.estimate): the runs of each chain's fixed rounds
    (study.repetitions), with their estimated seconds;
  * the run directories <results>/raw/<payload>/<mode>/<copies>c/r<rep>[@<host>]/: with run.json a
    run is finished (status, reason, wall_s, started_utc, ended_utc: workflow/schemas/run.schema.json);
    without it the run is under way (it started when its oldest file was written; a payload run
    benchmark by benchmark shows which of its units has started: unit-<name>/). Runs of rounds
    beyond the fixed ones (study.adaptive) are counted as they appear;
  * the chain's own record <results>/raw/.chains/<host|local>.json (execbench.chain): the chain
    is finished when it exists and is newer than its last run; its `decisions` (an adaptive round
    added, or refused and why) are printed once each.

ETA: tqdm's meter (tqdm.format_meter; no terminal codes of our own) over *estimated* seconds: the
finished runs advance it by their estimates while its clock is their measured wall time, so
the time left is the estimated seconds still to run scaled by how fast this host really went,
and a gap between invocations (a resumed study) does not slow it down. A run of unknown length
counts as the mean of the known ones; adaptive rounds not yet started are not in it (the line
says "+k adaptive" once they run). "up" is real time since the chain's first run started.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from . import layout, payloads
from .chain import chain_name, chain_record_path
from .payloads.base import WHOLE, unit_dir

FAILED = ("failed", "unavailable")


def _utc_seconds(text) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class FinishedRun:
    rel_dir: str
    status: str
    reason: str
    wall_s: float | None
    started: float | None  # POSIX seconds
    ended: float | None


@dataclass
class ChainState:
    """What one host chain has done so far, read from disk (see the module docstring)."""

    name: str
    planned: list  # plan.RunEstimate of the fixed rounds, in start order
    finished: dict = field(default_factory=dict)  # rel_dir -> FinishedRun (planned and adaptive runs)
    running: list = field(default_factory=list)  # (rel_dir, started POSIX seconds) of runs under way
    units: dict = field(default_factory=dict)  # rel_dir under way -> (units started, units of the run)
    record: dict | None = None  # the chain's own record, when written
    fixed_repetitions: int = 1

    @property
    def adaptive(self) -> list[str]:
        """Runs of rounds beyond the fixed ones that have started or finished."""
        planned = {e.cell.rel_dir for e in self.planned}
        return sorted({r for r in self.finished if r not in planned} | {r for r, _ in self.running if r not in planned})

    @property
    def total(self) -> int:
        return len(self.planned) + len(self.adaptive)

    @property
    def failures(self) -> list[FinishedRun]:
        return sorted((f for f in self.finished.values() if f.status in FAILED), key=lambda f: f.ended or 0)

    @property
    def done(self) -> bool:
        """Every planned run finished, nothing under way, and (when the chain writes one) its record
        no older than its last run: no adaptive round can follow."""
        if self.running or any(e.cell.rel_dir not in self.finished for e in self.planned):
            return False
        if self.record is None:
            return not self.adaptive_possible
        last = max((f.ended or 0 for f in self.finished.values()), default=0)
        return (_utc_seconds(self.record.get("ended_utc")) or 0) >= last

    adaptive_possible: bool = False

    def meter(self, now: float | None = None) -> str:
        """'41%|████▏     | ETA 07:10 | up 05:02' (tqdm.format_meter, see the module docstring)."""
        now = time.time() if now is None else now
        known = [e.wall_s for e in self.planned if e.wall_s is not None]
        fallback = sum(known) / len(known) if known else 1.0
        weight = {e.cell.rel_dir: (e.wall_s if e.wall_s is not None else fallback) for e in self.planned}
        done = [r for r in self.finished if r in weight]
        work_total = sum(weight.values()) or 1.0
        work_done = sum(weight[r] for r in done)
        measured = sum(self.finished[r].wall_s or weight[r] for r in done)
        starts = [f.started for f in self.finished.values() if f.started] + [s for _, s in self.running if s]
        if self.done:  # a finished chain was up from its first start to its last end
            now = max((f.ended or 0 for f in self.finished.values()), default=now)
        up = tqdm.format_interval(max(0.0, now - min(starts))) if starts else "00:00"
        bar = tqdm.format_meter(work_done, work_total, max(measured, 1e-6), ncols=60,
                                bar_format="{percentage:3.0f}%|{bar:10}| ETA {remaining}")
        if work_done == 0:
            bar = bar.split(" ETA ")[0] + " ETA ?"
        return f"{bar} | up {up}"

    def failures_text(self) -> str:
        """'failed 1, unavailable 3 (last db12/vm/1c/r1: no usable KVM)': a run that could not run
        here (unavailable: no KVM, no engine) is counted apart from one that broke."""
        failures = self.failures
        failed = sum(1 for f in failures if f.status == "failed")
        text = f"failed {failed}, unavailable {len(failures) - failed}"
        if not failures:
            return text
        last = failures[-1]
        why = f": {last.reason[:60]}" if last.reason else ""
        return f"{text} (last {last.rel_dir}{why})"

    def line(self, rel_dir: str, now: float | None = None) -> str:
        """The line printed when `rel_dir` finished: the meter and the failures as they were when
        it ended (several runs seen in one look each get their own numbers)."""
        run = self.finished[rel_dir]
        ordered = sorted(self.finished.values(), key=lambda f: (f.ended or 0, f.rel_dir))
        index = ordered.index(run) + 1
        then = replace(self, finished={f.rel_dir: f for f in ordered[:index]}, running=[])
        wall = "" if run.wall_s is None else f" in {run.wall_s:.1f} s"
        extra = f" (+{len(self.adaptive)} adaptive)" if self.adaptive else ""
        at = now if now is not None else (run.ended or None)
        return (f"{self.name}: run {index}/{self.total}{extra} {rel_dir} {run.status}{wall} | "
                f"{then.meter(at)} | {then.failures_text()}")

    def status_line(self, now: float | None = None) -> str:
        """Where the chain is now: finished runs, the run under way, the meter, the failures."""
        now = time.time() if now is None else now
        if self.done:
            state = "finished"
        elif self.running:
            rel, started = self.running[0]
            done, total = self.units.get(rel, (0, 1))
            unit = f", unit {done} of {total}" if total > 1 else ""  # a payload run benchmark by benchmark
            state = f"now {rel} ({tqdm.format_interval(max(0.0, now - started))} so far{unit})"
        elif self.finished:
            state = "between runs"
        else:
            state = "not started"
        extra = f" (+{len(self.adaptive)} adaptive)" if self.adaptive else ""
        return (f"{self.name}: {len(self.finished)}/{self.total}{extra} runs done, {state} | {self.meter(now)} | "
                f"{self.failures_text()}")


def _finished_run(run_dir: Path) -> FinishedRun | None:
    try:
        run = json.loads((run_dir / layout.RUN_JSON).read_text())
    except (OSError, ValueError):
        return None  # being written (atomic rename pending) or unreadable: not finished yet
    wall = run.get("wall_s")
    return FinishedRun(run_dir.relative_to(run_dir.parents[3]).as_posix(), str(run.get("status")),
                       str(run.get("reason") or ""), float(wall) if isinstance(wall, (int, float)) else None,
                       _utc_seconds(run.get("started_utc")), _utc_seconds(run.get("ended_utc")))


def _started(run_dir: Path) -> float:
    times = [p.stat().st_mtime for p in run_dir.rglob("*") if p.is_file()]
    return min(times) if times else run_dir.stat().st_mtime


def study_state(config: dict, estimates: list | None = None) -> list[ChainState]:
    """Every host chain of the study (cluster.hosts, else one local chain), read from disk.
    `estimates`: plan.estimate(config, ...) (computed here from this host's earlier runs when None)."""
    from . import plan

    results = config["results"]
    if estimates is None:
        estimates = plan.estimate(config, plan.read_history(plan.history_dirs(config)))
    study = config["study"]
    fixed = int(study["repetitions"])
    adaptive = study.get("adaptive") or {}
    possible = int(adaptive.get("max_repetitions") or fixed) > fixed
    hosts = list(dict.fromkeys(e.cell.host for e in estimates)) or [None]
    wanted = {(p, m) for p in config["payloads"] for m in config["modes"]}
    raw = layout.raw_root(results)
    chains = []
    for host in hosts:
        state = ChainState(chain_name(host), [e for e in estimates if e.cell.host == host],
                           fixed_repetitions=fixed, adaptive_possible=possible)
        for run_dir in sorted(raw.glob("*/*/*c/r*")):
            try:
                key = layout.RunKey.from_rel_dir(run_dir.relative_to(raw).as_posix())
            except ValueError:
                continue
            if key.host != host or (key.payload, key.mode) not in wanted or not run_dir.is_dir():
                continue
            if (run_dir / layout.RUN_JSON).exists():
                finished = _finished_run(run_dir)
                if finished is not None:
                    state.finished[key.rel_dir] = finished
                    continue
            state.running.append((key.rel_dir, _started(run_dir)))
            units = payloads.get(key.payload).units(config["payloads"][key.payload])
            started = sum(1 for u in units if u != WHOLE and unit_dir(run_dir, u).is_dir())
            state.units[key.rel_dir] = (started, len(units))
        state.running.sort(key=lambda r: -r[1])  # the newest first: the one under way
        try:
            state.record = json.loads(chain_record_path(results, host).read_text())
        except (OSError, ValueError):
            state.record = None
        chains.append(state)
    return chains


def decision_lines(state: ChainState) -> list[str]:
    """The chain record's adaptive decisions, one line each."""
    out = []
    for d in (state.record or {}).get("decisions") or []:
        verb = "added" if d.get("added") else "not added"
        out.append(f"{state.name}: round {d.get('round')} {verb} for {', '.join(d.get('cells') or [])}: {d.get('why')}")
    return out


def follow(config: dict, interval_s: float = 5.0, once: bool = False, stream=None, sleep=time.sleep,
           max_polls: int | None = None) -> int:
    """Print the study's state, then one line per run as it finishes (and each adaptive decision),
    until every chain is done (or once). Returns the number of failed runs."""
    from . import plan

    stream = stream or sys.stdout
    estimates = plan.estimate(config, plan.read_history(plan.history_dirs(config)))
    chains = study_state(config, estimates)
    for state in chains:
        print(state.status_line(), file=stream, flush=True)
    if once:
        return sum(len(s.failures) for s in chains)
    seen = {s.name: set(s.finished) for s in chains}
    said = {s.name: set(decision_lines(s)) for s in chains}
    polls = 0
    while not all(s.done for s in chains) and (max_polls is None or polls < max_polls):
        sleep(interval_s)
        polls += 1
        chains = study_state(config, estimates)
        for state in chains:
            new = sorted((r for r in state.finished if r not in seen[state.name]),
                         key=lambda r: (state.finished[r].ended or 0, r))
            for rel in new:
                print(state.line(rel), file=stream, flush=True)
                seen[state.name].add(rel)
            for text in decision_lines(state):
                if text not in said[state.name]:
                    print(text, file=stream, flush=True)
                    said[state.name].add(text)
    for state in chains:
        if state.done:
            print(state.status_line(), file=stream, flush=True)
    return sum(len(s.failures) for s in chains)
