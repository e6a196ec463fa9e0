"""Execute one cell of the run matrix and leave its raw record.

results/raw/<payload>/<mode>/<copies>c/r<rep>/ gets the payload's native logs
(copy<i>/, written inside the environment) and run.json (provenance, schema
workflow/schemas/run.schema.json). run.json is written last and atomically: a
run dir without it is incomplete, and the next attempt moves it aside to
results/raw/.incomplete/<run_id>-<UTC>/ (never deleted) before starting over.

A payload failure (non-zero exit, timeout) or an unavailable mode is a result,
not an error: run.json says so and the workflow goes on. Benchmarks never
overlap on a host: every run holds the host's benchmark lock for its whole
duration, across Snakemake processes. The lock lives on the host itself
(/run/lock, else /tmp; EXECBENCH_BENCHMARK_LOCK overrides), not in results/:
on a filesystem shared by many nodes a lock there would serialise every node.

run.json also records the batch job around the run (SLURM or HTCondor) and,
when the study fans out over cluster.hosts, the host the run was meant for and
whether it really ran there (pairing "ok" or "broken").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
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
from .hostinfo import batch_context, host_info
from .modes.base import ModeContext, RunContext, RunOutcome
from .paths import SCHEMAS

LOCK_ENV = "EXECBENCH_BENCHMARK_LOCK"
LOCK_NAME = "execbench-benchmark.lock"
LOCK_DIRS = ("/run/lock", "/tmp")


def find_cell(config: dict, payload: str, mode: str, copies: int, repetition: int,
              host: str | None = None) -> RunCell:
    wanted = (payload, mode, copies, repetition, host or None)
    for cell in run_matrix(config):
        if (cell.payload, cell.mode, cell.copies, cell.repetition, cell.host) == wanted:
            return cell
    at_host = f"@{host}" if host else ""
    raise ExecbenchError(f"no run {payload}/{mode}/{copies}c/r{repetition}{at_host} in this config's matrix")


def lock_path() -> Path:
    """The host-local benchmark lock: $EXECBENCH_BENCHMARK_LOCK, else /run/lock/..., else /tmp/..."""
    if os.environ.get(LOCK_ENV):
        return Path(os.environ[LOCK_ENV])
    for directory in LOCK_DIRS:
        if os.access(directory, os.W_OK):
            return Path(directory) / LOCK_NAME
    return Path(LOCK_DIRS[-1]) / LOCK_NAME


@contextlib.contextmanager
def benchmark_slot(path: str | Path | None = None):
    """The host's one benchmark slot (fcntl lock: released by the kernel if we die)."""
    path = Path(path) if path else lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise ExecbenchError(f"cannot open the host's benchmark lock {path} ({err}); set {LOCK_ENV}") from None
    with contextlib.suppress(OSError):  # every user of the host takes the same slot (root, batch users)
        os.fchmod(fd, 0o666)
    with open(fd, "r+") as fh:
        fcntl.lockf(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield
        finally:
            fcntl.lockf(fh, fcntl.LOCK_UN)


def move_aside(results: str | Path, cell: RunCell) -> Path | None:
    """A run dir left by an earlier attempt goes to raw/.incomplete/, never deleted.

    An empty run dir is no attempt: Snakemake makes it (the parent of run.json) before the
    job starts, so it stays where it is and None is returned."""
    run_dir = layout.raw_dir(results, cell)
    if not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir())):
        return None
    target = layout.incomplete_dir(results) / f"{cell.run_id}-{utc_stamp()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    run_dir.rename(target)
    return target


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


def _raise_terminated(signum, frame):
    raise _Terminated(f"signal {signum}")


def run_cell(config: dict, cell: RunCell, *, payload=None) -> dict:
    """Run one cell, write and return its run.json. `payload` overrides the registry (tests)."""
    mode_settings = dict(config["modes"][cell.mode])
    kind = mode_settings["kind"]
    payload_settings = dict(config["payloads"].get(cell.payload, {}))
    results = config["results"]
    out_dir = layout.raw_dir(results, cell)
    main_thread = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        with benchmark_slot():
            moved = move_aside(results, cell)
            out_dir.mkdir(parents=True, exist_ok=True)  # empty when it exists (move_aside)
            record = {
                "schema_version": 1,
                "run_id": cell.run_id,
                "payload": cell.payload,
                "payload_settings": payload_settings,
                "mode": cell.mode,
                "mode_kind": kind,
                "mode_settings": mode_settings,
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
                "copies_result": [],
                "previous_attempt": str(moved) if moved else None,
            }
            record["pairing"] = pairing(cell.host, record["host"], record["batch"])
            t0 = time.monotonic()
            try:
                _execute(config, cell, mode_settings, payload_settings, out_dir, record, payload)
            except Exception as err:
                record.update(status="failed", reason=f"{type(err).__name__}: {err}"[:2000])
                (out_dir / "harness-error.log").write_text(traceback.format_exc())
            record["ended_utc"] = utc_now()
            record["wall_s"] = time.monotonic() - t0
            try:
                validate_run(record)
            except jsonschema.ValidationError as err:  # a harness bug: still record the run, failed
                record.update(status="failed", reason=f"run.json failed its schema: {err.message}"[:2000])
                validate_run(record)
            atomic_write_json(out_dir / layout.RUN_JSON, record)
            return record
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _execute(config, cell, mode_settings, payload_settings, out_dir, record, payload) -> None:
    mode = modes_registry.get(mode_settings["kind"])
    payload = payload or payloads_registry.get(cell.payload)
    image = image_record(config) or {}
    record["image"].update(reference=image.get("reference"), digest=image.get("digest"))
    mode_ctx = ModeContext(name=cell.mode, kind=mode_settings["kind"], settings=mode_settings,
                           cache_dir=Path(config["cache"]))
    availability = mode.available(mode_ctx)
    if not availability.ok:
        record.update(status="unavailable", reason=availability.reason)
        return
    record["emulated"] = availability.emulated
    record["versions"] = _versions(mode, mode_ctx)
    if mode.needs_image(mode_ctx) and not image.get("reference"):
        images_json = Path(config["results"]) / "images" / f"{config['image']}.json"
        record.update(status="failed", reason=f"no image record {images_json} (run the images stage first)")
        return
    threads = payload.threads_per_copy(payload_settings)
    usable = len(os.sched_getaffinity(0))
    record["threads_per_copy"] = threads if threads is not None else "auto"
    if cell.copies * (threads or usable) > usable:  # multi-threaded copies must not oversubscribe the host
        record.update(status="unavailable", reason=f"{cell.copies} copies x {threads or f'auto ({usable})'} "
                                                   f"threads > {usable} usable cores")
        return
    ctx = RunContext(mode=mode_ctx, run_id=cell.run_id, image_ref=image.get("reference") or "",
                     payload=cell.payload, copies=cell.copies, repetition=cell.repetition,
                     argv=payload.argv(payload_settings), timeout_s=payload.timeout_s(payload_settings),
                     out_dir=out_dir, needs_network=payload.needs_network)
    record["timeout_s"] = ctx.timeout_s
    record["argv"] = list(ctx.argv)
    record["factors"] = mode.factors(ctx)
    outcome: RunOutcome = (payload.run_host(mode, ctx, payload_settings) if payload.host_driven else mode.run(ctx))
    record["factors"].update(outcome.factors)
    record["emulated"] = record["emulated"] or outcome.emulated
    record["copies_result"] = [r.to_dict() for r in outcome.copies]
    bad = [r for r in outcome.copies if not r.ok]
    if len(outcome.copies) != cell.copies:
        record.update(status="failed", reason=f"{len(outcome.copies)} copy results for {cell.copies} copies")
    elif bad:
        record.update(status="failed", reason="; ".join(
            f"copy {r.copy}: " + ("timed out" if r.timed_out else f"exit code {r.exit_code}")
            + (f" ({r.detail})" if r.exit_code is None else "") for r in bad)[:2000])
    else:
        record.update(status="ok", reason=availability.reason)
