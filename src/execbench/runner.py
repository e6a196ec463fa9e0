"""Execute one cell of the run matrix and leave its raw record.

results/raw/<payload>/<mode>/<copies>c/r<rep>/ gets the payload's native logs
(copy<i>/, written inside the environment) and run.json (provenance, schema
workflow/schemas/run.schema.json). run.json is written last and atomically: a
run dir without it is incomplete, and the next attempt moves it aside to
results/raw/.incomplete/<run_id>-<UTC>/ (never deleted) before starting over.

At the end of every run, once no payload process is left, the run dir is sealed
(execbench.integrity): its files become root's and read-only, and run.json records the
sha256 of each (`sealed`), which the parse stage checks before reading any of them.

A payload failure (non-zero exit, timeout) or an unavailable mode is a result,
not an error: run.json says so and the workflow goes on. Benchmarks never
overlap on a host: every unit of a run holds the host's benchmark lock for its
whole duration, across Snakemake processes (execbench.hostlock: on the host
itself, never in results/, and out of other local users' reach).

run.json also records the batch job around the run (SLURM or HTCondor) and,
when the study fans out over cluster.hosts, the host the run was meant for and
whether it really ran there (pairing "ok" or "broken").
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import threading
import time
import traceback
from functools import cache
from pathlib import Path

import jsonschema

from . import layout
from . import modes as modes_registry
from . import payloads as payloads_registry
from .config import RunCell, config_sha256, run_matrix
from .errors import ExecbenchError
from .fsutil import atomic_write_json, utc_now, utc_stamp
from .hostinfo import batch_context, host_info, host_state, host_state_delta
from .hostlock import LOCK_ENV, benchmark_slot, lock_path  # noqa: F401  (the runner's lock, re-exported)
from .integrity import seal_run_dir
from .payloads.base import unit_dir
from .modes.base import ModeContext, RunContext, RunOutcome
from .paths import SCHEMAS

def find_cell(config: dict, payload: str, mode: str, copies: int, repetition: int,
              host: str | None = None) -> RunCell:
    wanted = (payload, mode, copies, repetition, host or None)
    for cell in run_matrix(config):
        if (cell.payload, cell.mode, cell.copies, cell.repetition, cell.host) == wanted:
            return cell
    at_host = f"@{host}" if host else ""
    raise ExecbenchError(f"no run {payload}/{mode}/{copies}c/r{repetition}{at_host} in this config's matrix")


def move_aside(results: str | Path, cell: layout.RunKey, force: bool = False) -> Path | None:
    """A run dir left by an earlier attempt goes to raw/.incomplete/<run id>-<UTC>/, never deleted;
    returns where, or None when there was nothing to move. An empty dir is no attempt and stays.
    `force`: also a finished run (execbench redo)."""
    run_dir = layout.raw_dir(results, cell)
    if not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir())):
        return None
    if (run_dir / layout.RUN_JSON).exists() and not force:
        raise ExecbenchError(f"{run_dir} is a finished run: not measured again (execbench redo sets it aside)")
    target = layout.incomplete_dir(results) / f"{cell.run_id}-{utc_stamp()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    run_dir.rename(target)
    if force:  # a finished run set aside (redo): its next attempt names it as previous_attempt
        with open(target.parent / REDO_LOG, "a") as log:
            log.write(json.dumps({"run": cell.rel_dir, "moved": str(target), "utc": utc_now()}) + "\n")
    return target


REDO_LOG = "redo.jsonl"  # raw/.incomplete/redo.jsonl: finished runs set aside by `execbench redo`


def set_aside_by_redo(results: str | Path, cell: layout.RunKey) -> Path | None:
    """Where `execbench redo` last set this run aside (None if it never did, or that is gone)."""
    log = layout.incomplete_dir(results) / REDO_LOG
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("run") == cell.rel_dir and Path(entry.get("moved", "")).is_dir():
            return Path(entry["moved"])
    return None


def pairing(cluster_host: str | None, host: dict, batch: dict) -> str | None:
    """"ok" if the run ran on the host it was meant for, "broken" if not, None without fan-out.

    The host name (full or short) and the batch system's node name (SLURMD_NODENAME, or
    HTCondor's RemoteHost without its slot@) all count as that host."""
    if not cluster_host:
        return None
    names = set()
    for name in (host.get("hostname"), batch.get("node")):
        if name:
            machine = str(name).split("@")[-1]
            names |= {machine, machine.split(".")[0]}
    return "ok" if cluster_host in names else "broken"


def image_record(config: dict) -> dict | None:
    path = Path(config["results"]) / "images" / f"{config['image']}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@cache
def _run_validator():
    schema = json.loads((SCHEMAS / "run.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_run(data: dict) -> dict:
    _run_validator().validate(data)
    return data


def _versions(mode, ctx: ModeContext) -> dict:
    try:
        return mode.versions(ctx)
    except Exception as err:  # provenance must not kill the run; say what is missing
        return {"error": f"{type(err).__name__}: {err}"[:300]}


class _Terminated(BaseException):
    """SIGTERM (Snakemake stopping, Ctrl-C of the workflow): unwind so mounts and containers go."""


Terminated = _Terminated  # the public name: the CLI turns it into one line, not a traceback


def _raise_terminated(signum, frame):
    raise _Terminated(f"signal {signum}")


# The pid of the Snakemake process whose job this runner is (workflow/rules/common.smk sets it
# when the workflow is loaded: on the submit host for local jobs, in the remote Snakemake a batch
# job starts on its node). Killed alone (kill -9 of Snakemake), it leaves its job's shell and this
# process behind (issue 13, R5): an orphaned chain would go on measuring unobserved, and the
# rerun's chain would take turns with it on the benchmark lock, measuring the same runs again.
# So the job stops as on SIGTERM (no run.json; containers, guests, mounts removed) when that
# process is gone, and the rerun resumes, the interrupted run's half set aside.
WORKFLOW_PID_ENV = "EXECBENCH_WORKFLOW_PID"


def _ancestors(pid: int) -> set[int]:
    """The pids above `pid` up to init (from /proc/<pid>/stat's ppid)."""
    out = set()
    while pid > 1:
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat_line.rsplit(")", 1)[1].split()[1])
        out.add(pid)
    return out


def watched_workflow() -> int | None:
    """The pid of the Snakemake process to stop with ($EXECBENCH_WORKFLOW_PID), or None when it
    is unset, malformed or not one of this process's ancestors (a stale value in the environment
    of a runner started by hand, or a batch job's copy of the submit host's environment)."""
    value = os.environ.get(WORKFLOW_PID_ENV, "")
    if not value.isdigit() or int(value) <= 1:
        return None
    return int(value) if int(value) in _ancestors(os.getpid()) else None


@contextlib.contextmanager
def stop_with_workflow(pid: int | None):
    """While inside, SIGTERM this process when process `pid` exits (pidfd_open, Linux >= 5.3;
    polled once a second where that is missing). Nothing is watched for None. Raises
    _Terminated at once if `pid` is already gone (its SIGTERM handler must be installed)."""
    if pid is None:
        yield
        return
    done = threading.Event()
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is None and not Path(f"/proc/{pid}").exists():
        raise _Terminated(f"the workflow (pid {pid}) is gone")

    def watch():
        gone = False
        if fd is not None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while not done.is_set() and not gone:
                gone = bool(poller.poll(500))
        else:
            while not done.is_set() and not gone:
                gone = not Path(f"/proc/{pid}").exists()
                done.wait(1.0)
        if gone and not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="stop-with-workflow", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def terminate_on_sigterm():
    """Within the block, SIGTERM raises _Terminated (main thread only), so mounts, containers and
    guests are cleaned up on the way out; so does the end of the Snakemake process that started
    this job (stop_with_workflow, issue 13 R5)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        with stop_with_workflow(watched_workflow() if main_thread else None):
            yield
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _aggregate_copies(units: list[dict], copies: int) -> list[dict]:
    """One result per copy over a run's units: the first failing exit code, summed times, timed out
    if any unit timed out."""
    out = []
    for copy in range(copies):
        mine = [c for u in units for c in u["copies_result"] if c["copy"] == copy]
        if not mine:
            continue
        exit_codes = [c["exit_code"] for c in mine]
        bad = next((e for e in exit_codes if e != 0), 0)

        def total(key, rows=mine):
            values = [c[key] for c in rows]
            return None if any(v is None for v in values) else math.fsum(values)

        throttling = [c.get("cpu_throttling") for c in mine]
        out.append({"copy": copy, "exit_code": bad, "wall_s": total("wall_s"),
                    "timed_out": any(c["timed_out"] for c in mine), "cpu_s": total("cpu_s"),
                    "env_cgroup_cpu_s": total("env_cgroup_cpu_s"),
                    "detail": "; ".join(dict.fromkeys(c["detail"] for c in mine if c["detail"]))[:1500],
                    # the environment is the mode's, the same in every unit: the first unit's fingerprint
                    "environment": next((c["environment"] for c in mine if c.get("environment")), None),
                    "cpu_throttling": None if any(t is None for t in throttling) else {
                        key: sum(t[key] for t in throttling) for key in throttling[0]}})
    return out


class RunInProgress:
    """One run of the matrix carried out unit by unit (payloads.base.Payload.units): start() checks
    the mode and records the provenance, run_unit() runs one unit of the payload under the host's
    benchmark lock, finish() writes run.json. A run of one unit is the common case (run_cell);
    the chain job (execbench.chain) interleaves the units of several runs so that a mode's unit and
    bare metal's are close in time. `payload` overrides the registry (tests)."""

    def __init__(self, config: dict, cell: RunCell, payload=None):
        self.config, self.cell = config, cell
        self.mode_settings = dict(config["modes"][cell.mode])
        self.payload_settings = dict(config["payloads"].get(cell.payload, {}))
        self.payload = payload or payloads_registry.get(cell.payload)
        self.mode = modes_registry.get(self.mode_settings["kind"])
        self.out_dir = layout.raw_dir(config["results"], cell)
        self.record: dict = {}
        self.ready = False  # start() found the mode available and the image there
        self.units: list[str] = self.payload.units(self.payload_settings)
        self.t0 = 0.0

    def start(self) -> "RunInProgress":
        cell, config = self.cell, self.config
        moved = move_aside(config["results"], cell) or set_aside_by_redo(config["results"], cell)
        self.out_dir.mkdir(parents=True, exist_ok=True)  # empty when it exists (move_aside)
        self.t0 = time.monotonic()
        self.record = {
            "schema_version": 1,
            "run_id": cell.run_id,
            "payload": cell.payload,
            "payload_settings": self.payload_settings,
            "mode": cell.mode,
            "mode_kind": self.mode_settings["kind"],
            "mode_settings": self.mode_settings,
            "copies": cell.copies,
            "repetition": cell.repetition,
            "order_index": cell.order_index,
            "seed": config["study"]["seed"],
            "study": config["study"].get("name", ""),
            "config_sha256": config_sha256(config),
            "status": "failed",
            "reason": "",
            "emulated": False,
            "host": host_info(),
            "batch": batch_context(),
            "cluster_host": cell.host,
            "pairing": None,
            "versions": {},
            "image": {"name": config["image"], "reference": None, "digest": None},
            "started_utc": utc_now(),
            "ended_utc": None,
            "wall_s": None,
            "units": [],
            "copies_result": [],
            "previous_attempt": str(moved) if moved else None,
        }
        self.record["pairing"] = pairing(cell.host, self.record["host"], self.record["batch"])
        try:
            self._prepare()
        except Exception as err:
            self._harness_error(err)
        return self

    def _prepare(self) -> None:
        image = image_record(self.config) or {}
        self.record["image"].update(reference=image.get("reference"), digest=image.get("digest"))
        self.mode_ctx = ModeContext(name=self.cell.mode, kind=self.mode_settings["kind"],
                                    settings=self.mode_settings, cache_dir=Path(self.config["cache"]))
        self.availability = self.mode.available(self.mode_ctx)
        if not self.availability.ok:
            self.record.update(status="unavailable", reason=self.availability.reason)
            return
        self.record["emulated"] = self.availability.emulated
        self.record["versions"] = _versions(self.mode, self.mode_ctx)
        if self.mode.needs_image(self.mode_ctx) and not image.get("reference"):
            images_json = Path(self.config["results"]) / "images" / f"{self.config['image']}.json"
            self.record.update(reason=f"no image record {images_json} (run the images stage first)")
            return
        threads = self.payload.threads_per_copy(self.payload_settings)
        usable = len(os.sched_getaffinity(0))
        self.record["threads_per_copy"] = threads if threads is not None else "auto"
        if self.cell.copies * (threads or usable) > usable:  # multi-threaded copies never oversubscribe the host
            self.record.update(status="unavailable", reason=f"{self.cell.copies} copies x "
                                                            f"{threads or f'auto ({usable})'} threads > {usable} "
                                                            f"usable cores")
            return
        self.image_ref = image.get("reference") or ""
        self.timeout_s = self.payload.timeout_s(self.payload_settings)
        self.record["timeout_s"] = self.timeout_s
        self.record["argv"] = list(self.payload.argv(self.payload_settings))
        self.record["factors"] = self.mode.factors(self._context(self.units[0]))
        # more copies than this host's usable cores: they share cores (config.config_warnings)
        self.record["factors"]["oversubscribed"] = self.cell.copies > len(os.sched_getaffinity(0))
        self.ready = True

    def _context(self, unit: str) -> RunContext:
        return RunContext(mode=self.mode_ctx, run_id=self.cell.run_id, image_ref=self.image_ref,
                          payload=self.cell.payload, copies=self.cell.copies, repetition=self.cell.repetition,
                          argv=self.payload.argv(self.payload_settings, unit), timeout_s=self.timeout_s,
                          out_dir=unit_dir(self.out_dir, unit), needs_network=self.payload.needs_network,
                          scratch_bytes=self.payload.scratch_bytes(self.payload_settings))

    def _harness_error(self, err: Exception) -> None:
        self.ready = False
        self.record.update(status="failed", reason=f"{type(err).__name__}: {err}"[:2000])
        with contextlib.suppress(OSError):  # a full disk: the reason still goes into run.json
            (self.out_dir / "harness-error.log").write_text(traceback.format_exc())

    def run_unit(self, unit: str, order_index: int | None = None) -> dict | None:
        """Run one unit under the host's benchmark lock; None when the run cannot run (start()
        recorded why)."""
        if not self.ready:
            return None
        entry = {"unit": unit, "order_index": order_index, "started_utc": utc_now(), "ended_utc": None,
                 "wall_s": None, "status": "failed", "reason": "", "copies_result": []}
        t0 = time.monotonic()
        try:
            with benchmark_slot(note={"run": self.cell.run_id, "results": str(Path(self.config["results"]).resolve())}):
                # the unit's wall time starts when it holds the host: waiting for another
                # checkout's benchmark is no part of it
                entry["lock_wait_s"], t0 = time.monotonic() - t0, time.monotonic()
                entry["started_utc"] = utc_now()
                ctx = self._context(unit)
                ctx.out_dir.mkdir(parents=True, exist_ok=True)
                before = host_state()
                outcome: RunOutcome = (self.payload.run_host(self.mode, ctx, self.payload_settings)
                                       if self.payload.host_driven else self.mode.run(ctx))
                entry["host_state"] = host_state_delta(before, host_state())
            self.record["factors"].update(outcome.factors)
            self.record["emulated"] = self.record["emulated"] or outcome.emulated
            entry["copies_result"] = [r.to_dict() for r in outcome.copies]
            bad = [r for r in outcome.copies if not r.ok]
            if len(outcome.copies) != self.cell.copies:
                entry["reason"] = f"{len(outcome.copies)} copy results for {self.cell.copies} copies"
            elif bad:
                entry["reason"] = "; ".join(
                    f"copy {r.copy}: " + ("timed out" if r.timed_out else f"exit code {r.exit_code}")
                    + (f" ({r.detail})" if r.exit_code is None else "") for r in bad)[:2000]
            else:
                entry["status"] = "ok"
        except Exception as err:
            entry["reason"] = f"{type(err).__name__}: {err}"[:2000]
            with contextlib.suppress(OSError):  # a full disk: the reason still goes into run.json
                (self.out_dir / "harness-error.log").write_text(traceback.format_exc())
        entry["ended_utc"], entry["wall_s"] = utc_now(), time.monotonic() - t0
        self.record["units"].append(entry)
        return entry

    def finish(self) -> dict:
        """Write and return run.json: ok when every unit was ok, else failed with the units' reasons
        (unavailable when the mode is)."""
        record, units = self.record, self.record["units"]
        if self.ready:
            record["copies_result"] = _aggregate_copies(units, self.cell.copies)
            record["host_state"] = _aggregate_host_state(units)
            failed = [u for u in units if u["status"] != "ok"]
            if len(units) < len(self.units):
                record.update(status="failed", reason=f"{len(units)} of {len(self.units)} units ran")
            elif failed:
                prefix = (lambda u: f"{u['unit']}: ") if len(self.units) > 1 else (lambda u: "")
                record.update(status="failed", reason="; ".join(prefix(u) + u["reason"] for u in failed)[:2000])
            else:
                record.update(status="ok", reason=self.availability.reason)
        record["ended_utc"] = utc_now()
        record["wall_s"] = time.monotonic() - self.t0
        try:  # every payload process is gone: the raw logs become root's, read-only, hashed
            record["sealed"] = seal_run_dir(self.out_dir)
        except OSError as err:
            record.update(status="failed", reason=f"could not seal the raw logs: {err}"[:2000], sealed=None)
        try:
            validate_run(record)
        except jsonschema.ValidationError as err:  # a harness bug: still record the run, failed
            record.update(status="failed", reason=f"run.json failed its schema: {err.message}"[:2000])
            validate_run(record)
        atomic_write_json(self.out_dir / layout.RUN_JSON, record, mode=0o444)
        return record


def _aggregate_host_state(units: list[dict]) -> dict:
    """The run's host state over its units: the largest steal time (%), the context switches
    summed, the highest 1-min load at a unit's start (None where no unit recorded it)."""
    states = [u["host_state"] for u in units if u.get("host_state")]

    def values(key):
        return [s[key] for s in states if s.get(key) is not None]

    return {"steal_pct_max": max(values("steal_pct"), default=None),
            "context_switches": sum(values("context_switches")) if values("context_switches") else None,
            "load_1m_max": max(values("load_1m"), default=None)}


def run_cell(config: dict, cell: RunCell, *, payload=None) -> dict:
    """Run one cell (every unit of it, in order), write and return its run.json. `payload`
    overrides the registry (tests)."""
    with terminate_on_sigterm():
        run = RunInProgress(config, cell, payload).start()
        for unit in run.units:
            run.run_unit(unit)
        return run.finish()
