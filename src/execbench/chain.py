"""One host's chain: the study's runs on one host, carried out by one job in the paired order,
with adaptive repetitions and resume after a kill.

**Order.** Round by round (repetition r = 1, 2, ...), payload by payload (config order), copies by
copies; then unit by unit of the payload (one, unless it splits itself: the CPU suite per
benchmark at standard size), and within a unit the modes in config.mode_order: bare metal in
the middle, reversed every other unit and round. So every mode's unit runs next to bare metal's or
one away (the two halves of a pair are seconds apart, even when a whole pass of the payload takes
minutes), benchmarks never overlap (one unit at a time, under the host's benchmark lock), and a
linear drift cancels over two units.

**Resume.** A run whose run.json exists is done and is never measured again. A run directory
without run.json is an interrupted attempt: it is moved to raw/.incomplete/ (never deleted) and
the run is done again in its place. The chain's own record (raw/.chains/<host>.json) is written
last; it is the Snakemake job's only output, so Snakemake never deletes a finished run.

**Adaptive repetitions (study.adaptive).** study.repetitions rounds always run. After each round
the paired half-width (stats.paired_ratio) of every targeted cell — each payload's headline number
at each copies count, every mode against bare metal — is computed from the runs so far. A
(payload, copies) whose cells are wider than target_half_width_pct gets one more round, until
max_repetitions, or until the extra rounds would exceed max_extra_minutes (estimated from the
rounds so far). A cell that could not reach the target within max_repetitions even if its true
spread were at the lower 95 % bound of what its rounds show (stats.rounds_at_best) gets no more
rounds: on a host too noisy for the target, extra rounds would buy nothing the report can use.
Every decision, and why, is logged in the chain record.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import layout, payloads, stats
from .config import RunCell, cells_of_round, config_sha256, mode_order
from .fsutil import atomic_write_json, utc_now
from .parse import parse_run_dir
from .runner import RunInProgress, terminate_on_sigterm

CHAINS = ".chains"  # under raw/: one record per host's chain
LOCAL = "local"  # the chain's name without cluster.hosts


def chain_name(host: str | None) -> str:
    return host or LOCAL


def chain_record_path(results: str | Path, host: str | None) -> Path:
    return layout.raw_root(results) / CHAINS / f"{chain_name(host)}.json"


@dataclass(frozen=True)
class Step:
    """One unit of one run, at its place in the chain."""

    cell: RunCell
    unit: str


def round_steps(config: dict, repetition: int, host: str | None, only: set | None = None,
                cores: int | None = None) -> list[Step]:
    """The units of one round in the order they run (see the module docstring)."""
    steps: list[Step] = []
    cells = cells_of_round(config, repetition, host, cores, only)
    by_cell: dict[tuple, dict[str, RunCell]] = {}
    for cell in cells:
        by_cell.setdefault((cell.payload, cell.copies), {})[cell.mode] = cell
    for (payload, copies), runs in by_cell.items():
        units = payloads.get(payload).units(config["payloads"][payload])
        for turn, unit in enumerate(units):
            for mode in mode_order(config, repetition, payload, copies, host, turn=turn):
                if mode in runs:
                    steps.append(Step(runs[mode], unit))
    return steps


def plan_digest(config: dict, host: str | None) -> str:
    """What decides the chain's runs (a rerun trigger of its job): the config and the host."""
    return config_sha256({"config": config, "host": host})


class Chain:
    """Carries out one host's chain (see the module docstring). `progress(i, n, step, elapsed_s,
    eta_s, failures)` is called before each unit."""

    def __init__(self, config: dict, host: str | None = None, progress=None, cores: int | None = None):
        self.config, self.host, self.cores = config, host, cores
        self.results = config["results"]
        self.progress = progress or print_progress
        self.adaptive = config["study"].get("adaptive") or {}
        self.decisions: list[dict] = []
        self.done: list[str] = []
        self.done_dirs: list[str] = []  # their directories under raw/ (a deleted one makes the chain due again)
        self.failures = 0
        self.unavailable = 0  # runs of a mode this host cannot run (not failures: their reason is recorded)
        self.unit_seconds: list[float] = []  # measured per unit, for the ETA and the time budget
        self.order_index = 0
        self.clock = time.monotonic  # the extra rounds' time budget is measured on it
        self._headlines: dict[Path, tuple[float, bool] | None] = {}  # finished run dir -> its headline

    # --- the rounds --------------------------------------------------------------------------

    def run(self) -> dict:
        """Every round, then the chain record. Returns the record."""
        started, t0 = utc_now(), time.monotonic()
        fixed = self.config["study"]["repetitions"]
        max_rounds = max(fixed, int(self.adaptive.get("max_repetitions") or fixed))
        budget_s = 60.0 * float(self.adaptive.get("max_extra_minutes") or 0.0)
        extra_s = 0.0
        with terminate_on_sigterm():
            only = None  # every (payload, copies) in the fixed rounds
            for repetition in range(1, max_rounds + 1):
                if repetition > fixed:
                    only, why = self._cells_needing_more(repetition)
                    if not only:
                        break
                    estimate = self._round_estimate(repetition, only)
                    if extra_s + estimate > budget_s:
                        self._decide(repetition, only, f"{why}; not added: the extra round (about "
                                     f"{estimate / 60:.1f} min) would exceed max_extra_minutes "
                                     f"({budget_s / 60:g} min, {extra_s / 60:.1f} min used)", added=False)
                        break
                    self._decide(repetition, only, why, added=True)
                r0 = self.clock()
                self._run_round(repetition, only)
                if repetition > fixed:
                    extra_s += self.clock() - r0
        record = {
            "host": self.host, "chain": chain_name(self.host), "plan_sha256": plan_digest(self.config, self.host),
            "started_utc": started, "ended_utc": utc_now(), "wall_s": time.monotonic() - t0,
            "runs": self.done, "run_dirs": self.done_dirs, "failed_runs": self.failures, "unavailable_runs": self.unavailable,
            "fixed_repetitions": fixed,
            "adaptive": self.adaptive, "decisions": self.decisions,
        }
        atomic_write_json(chain_record_path(self.results, self.host), record)
        return record

    def _run_round(self, repetition: int, only: set | None) -> None:
        steps = round_steps(self.config, repetition, self.host, only, self.cores)
        open_runs: dict[RunCell, RunInProgress] = {}
        remaining = {}
        for step in steps:
            remaining[step.cell] = remaining.get(step.cell, 0) + 1
        total = len(steps)
        for i, step in enumerate(steps):
            cell = step.cell
            if (layout.run_json(self.results, cell)).exists():
                if cell.run_id not in self.done:
                    self.done.append(cell.run_id)
                    self.done_dirs.append(cell.rel_dir)
                continue  # finished before (resume): never measured twice
            run = open_runs.get(cell)
            if run is None:
                run = open_runs[cell] = RunInProgress(self.config, self._with_order(cell)).start()
            elapsed = sum(self.unit_seconds)
            mean = elapsed / len(self.unit_seconds) if self.unit_seconds else None
            self.progress(i + 1, total, step, repetition, elapsed, None if mean is None else mean * (total - i),
                          self.failures)
            u0 = time.monotonic()
            entry = run.run_unit(step.unit, order_index=self.order_index)
            self.order_index += 1
            if entry is not None:
                self.unit_seconds.append(time.monotonic() - u0)
            remaining[cell] -= 1
            if remaining[cell] == 0:
                record = run.finish()
                del open_runs[cell]
                self.done.append(cell.run_id)
                self.done_dirs.append(cell.rel_dir)
                self.failures += record["status"] == "failed"
                self.unavailable += record["status"] == "unavailable"

    def _with_order(self, cell: RunCell) -> RunCell:
        return RunCell(cell.payload, cell.mode, cell.copies, cell.repetition, cell.host, order_index=self.order_index)

    # --- adaptive repetitions ----------------------------------------------------------------

    def _decide(self, repetition: int, cells, why: str, added: bool) -> None:
        entry = {"round": repetition, "cells": sorted(f"{p}/{c}c" for p, c in cells), "added": added,
                 "why": why, "utc": utc_now()}
        self.decisions.append(entry)
        print(f"chain {chain_name(self.host)}: round {repetition} {'added' if added else 'not added'} "
              f"for {', '.join(entry['cells'])}: {why}", file=sys.stderr, flush=True)

    def _targeted(self) -> set:
        wanted_payloads = self.adaptive.get("payloads")
        wanted_copies = self.adaptive.get("copies")
        out = set()
        # round 2's cells: what an extra round can add (the host audit runs in round 1 only)
        for cell in cells_of_round(self.config, 2, self.host, self.cores):
            if wanted_payloads is not None and cell.payload not in wanted_payloads:
                continue
            if wanted_copies is not None and cell.copies not in wanted_copies:
                continue
            out.add((cell.payload, cell.copies))
        return out

    def _cells_needing_more(self, repetition: int) -> tuple[set, str]:
        """The targeted (payload, copies) still wider than the target after the rounds so far,
        and why (for the decision log)."""
        target = self.adaptive.get("target_half_width_pct")
        if not target:
            return set(), ""
        widths = self.half_widths(repetition - 1)
        fixed = self.config["study"]["repetitions"]
        max_rounds = max(fixed, int(self.adaptive.get("max_repetitions") or fixed))
        needing, why, futile = set(), [], []
        for key in sorted(self._targeted()):
            cells = widths.get(key, {})
            wide = {mode: w for mode, w in cells.items() if w is None or w > target}
            if not wide:
                continue
            label = f"{key[0]}/{key[1]}c " + ", ".join(
                f"{mode} ±{'?' if w is None else f'{w:.2f}'} %" for mode, w in sorted(wide.items()))
            if repetition - 1 >= 2 and all(w is not None for w in wide.values()):
                best = [stats.rounds_at_best(w, repetition - 1, target, max_rounds=10 * max_rounds)
                        for w in wide.values()]
                if all(b is None or b > max_rounds for b in best):
                    least = min((b for b in best if b is not None), default=None)
                    futile.append((key, f"{label} (needs {'over ' + str(10 * max_rounds) if least is None else least}"
                                        f" rounds even at its best)"))
                    continue
            needing.add(key)
            why.append(label)
        if futile:
            self._decide(repetition, {key for key, _ in futile}, f"futile within max_repetitions ({max_rounds}): "
                         + "; ".join(text for _, text in futile), added=False)
        return needing, f"half-width above {target:g} %: " + "; ".join(why)

    def half_widths(self, rounds: int) -> dict:
        """{(payload, copies): {mode: paired half-width % of the headline number, None if not
        computable}} over the runs so far (rounds 1..rounds)."""
        values: dict[tuple, dict[str, dict[int, float]]] = {}
        hib: dict[tuple, bool] = {}
        for repetition in range(1, rounds + 1):
            for cell in cells_of_round(self.config, repetition, self.host, self.cores):
                run_dir = layout.raw_dir(self.results, cell)
                if not (run_dir / layout.RUN_JSON).exists():
                    continue
                if run_dir not in self._headlines:  # a finished run never changes: parsed once per chain
                    self._headlines[run_dir] = _headline(parse_run_dir(run_dir))
                headline = self._headlines[run_dir]
                if headline is None:
                    continue
                value, higher = headline
                values.setdefault((cell.payload, cell.copies), {}).setdefault(cell.mode, {})[repetition] = value
                hib[(cell.payload, cell.copies)] = higher
        out: dict[tuple, dict[str, float | None]] = {}
        for key, by_mode in values.items():
            bare = by_mode.get("bare")
            for mode, side in by_mode.items():
                if mode == "bare":
                    continue
                result = stats.paired_ratio(side, bare or {}, hib[key]) if bare else None
                out.setdefault(key, {})[mode] = result.half_width_pct if result else None
        return out

    def _round_estimate(self, repetition: int, only: set) -> float:
        steps = round_steps(self.config, repetition, self.host, only, self.cores)
        mean = sum(self.unit_seconds) / len(self.unit_seconds) if self.unit_seconds else 10.0
        return len(steps) * mean


def _headline(parsed: dict) -> tuple[float, bool] | None:
    """The run's headline machine-level number, chosen as tables.headline_keys does: the record
    named after the payload (metric by HEADLINE_METRICS order), else the geometric mean over the
    payload's benchmarks of the metric most of them report (STREAM's four kernels); and whether
    higher is better. None when the run failed or has no such number."""
    from statistics import geometric_mean

    from .tables import HEADLINE_METRICS

    payload = str(parsed["run"].get("payload", "")).lower()
    if parsed["run"].get("status") != "ok":
        return None
    machine = [r for r in parsed["records"]
               if r.get("copy") is None and r.get("status") == "ok" and r.get("value")]
    own = {r["metric"]: (float(r["value"]), bool(r["higher_is_better"]))
           for r in machine if str(r.get("benchmark", "")).lower() == payload}
    if own:
        return own[min(own, key=lambda m: (HEADLINE_METRICS.index(m) if m in HEADLINE_METRICS
                                           else len(HEADLINE_METRICS), m))]
    by_metric: dict[str, list[dict]] = {}
    for r in machine:
        by_metric.setdefault(r["metric"], []).append(r)
    if not by_metric:
        return None
    metric = max(by_metric, key=lambda m: (len({r["benchmark"] for r in by_metric[m]}), m))
    rows = by_metric[metric]
    if len({r["benchmark"] for r in rows}) < 2:
        return None
    return geometric_mean([float(r["value"]) for r in rows]), bool(rows[0]["higher_is_better"])


def print_progress(i: int, n: int, step: Step, repetition: int, elapsed_s: float, eta_s: float | None,
                   failures: int) -> None:
    cell = step.cell
    unit = f" {step.unit}" if step.unit else ""
    eta = "?" if eta_s is None else f"{eta_s / 60:.1f} min"
    print(f"[round {repetition}: {i}/{n}] {cell.payload}{unit} {cell.mode} {cell.copies}c "
          f"(elapsed {elapsed_s / 60:.1f} min, ETA of the round {eta}, {failures} failed so far)",
          file=sys.stderr, flush=True)


def run_chain(config: dict, host: str | None = None) -> dict:
    """Carry out one host's chain and write its record (raw/.chains/<host>.json)."""
    return Chain(config, host).run()


def chain_state(results: str | Path, host: str | None) -> dict | None:
    path = chain_record_path(results, host)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def drop_stale_records(results: str | Path, hosts: list[str | None]) -> list[str]:
    """Remove the chain record of every chain one of whose runs has no run.json any more (a run
    directory deleted or set aside by hand): the chain job is then due again, resumes, and
    measures only what is missing. Returns one line per chain dropped, saying why."""
    said = []
    for host in hosts:
        record = chain_state(results, host)
        if not record:
            continue
        missing = [rel for rel in record.get("run_dirs") or []
                   if not (layout.raw_root(results) / rel / layout.RUN_JSON).exists()]
        if missing:
            chain_record_path(results, host).unlink(missing_ok=True)
            said.append(f"chain {chain_name(host)}: {len(missing)} of its runs are gone from {layout.raw_root(results)} "
                        f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): it runs again for them")
    return said

