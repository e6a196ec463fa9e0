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
import datetime as dt
import fcntl
import inspect
import json
import os
import signal
import threading
import time
import traceback
from functools import cache
from pathlib import Path

import jsonschema

from . import modes as modes_registry
from . import payloads as payloads_registry
from .config import RunCell, config_sha256, run_matrix
from .errors import ExecbenchError
from .hostinfo import host_info
from .modes.base import CopyResult, RunSpec
from .paths import SCHEMAS

LOCK_ENV = "EXECBENCH_BENCHMARK_LOCK"
LOCK_NAME = "execbench-benchmark.lock"
LOCK_DIRS = ("/run/lock", "/tmp")
INCOMPLETE = ".incomplete"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def raw_dir(config: dict, cell: RunCell) -> Path:
    return Path(config["results"]) / "raw" / cell.rel_dir


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


def move_aside(run_dir: Path, run_id: str) -> Path | None:
    """A run dir left by an earlier attempt goes to raw/.incomplete/, never deleted.

    An empty run dir is no attempt: Snakemake makes it (the parent of run.json) before the
    job starts, so it stays where it is and None is returned."""
    if not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir())):
        return None
    raw = run_dir.parents[3]  # raw/<payload>/<mode>/<copies>c/r<rep>
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = raw / INCOMPLETE / f"{run_id}-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    run_dir.rename(target)
    return target


def batch_context(environ=None) -> dict:
    """The batch job around this run: {system: slurm|htcondor|None, job_id, node}."""
    env = os.environ if environ is None else environ
    if env.get("SLURM_JOB_ID"):
        return {"system": "slurm", "job_id": env["SLURM_JOB_ID"], "node": env.get("SLURMD_NODENAME")}
    job_ad = env.get("_CONDOR_JOB_AD")
    if job_ad:
        ad = _classad_values(Path(job_ad))
        cluster, proc = ad.get("ClusterId"), ad.get("ProcId")
        job_id = f"{cluster}.{proc}" if cluster is not None and proc is not None else cluster
        return {"system": "htcondor", "job_id": job_id, "node": ad.get("RemoteHost")}
    return {"system": None, "job_id": None, "node": None}


def _classad_values(path: Path) -> dict[str, str]:
    """`Name = value` lines of a job ClassAd file (strings unquoted); {} when unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip('"')
    return values


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


def _versions(mode, settings: dict) -> dict:
    try:
        params = inspect.signature(mode.versions).parameters
        return mode.versions(settings) if params else mode.versions()
    except Exception as err:  # provenance must not kill the run; say what is missing
        return {"error": f"{type(err).__name__}: {err}"[:300]}


def _copy_dict(result: CopyResult) -> dict:
    return {"copy": result.copy, "exit_code": result.exit_code, "wall_s": result.wall_s,
            "timed_out": result.timed_out, "cpu_s": result.cpu_s,
            "env_cgroup_cpu_s": getattr(result, "env_cgroup_cpu_s", None), "detail": result.detail}


class _Terminated(BaseException):
    """SIGTERM (Snakemake stopping, Ctrl-C of the workflow): unwind so mounts and containers go."""


def _raise_terminated(signum, frame):
    raise _Terminated(f"signal {signum}")


def run_cell(config: dict, cell: RunCell, *, payload=None) -> dict:
    """Run one cell, write and return its run.json. `payload` overrides the registry (tests)."""
    mode_settings = dict(config["modes"][cell.mode])
    kind = mode_settings.get("kind", cell.mode)
    payload_settings = dict(config["payloads"].get(cell.payload, {}))
    out_dir = raw_dir(config, cell)
    main_thread = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        with benchmark_slot():
            moved = move_aside(out_dir, cell.run_id)
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
                _execute(config, cell, kind, mode_settings, payload_settings, out_dir, record, payload)
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
            tmp = out_dir / "run.json.tmp"
            tmp.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
            tmp.rename(out_dir / "run.json")
            return record
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _execute(config, cell, kind, mode_settings, payload_settings, out_dir, record, payload) -> None:
    mode = modes_registry.get(kind)
    payload = payload or payloads_registry.get(cell.payload)
    image = image_record(config) or {}
    record["image"].update(reference=image.get("reference"), digest=image.get("digest"))
    cache_dir = str(config.get("cache", ".execbench/cache"))
    # a mode that keeps boot artefacts/verdicts in the cache (vm) takes it as cache_dir
    takes_cache = "cache_dir" in inspect.signature(mode.available).parameters
    availability = mode.available(mode_settings, cache_dir=cache_dir) if takes_cache else mode.available(mode_settings)
    if not availability.ok:
        record.update(status="unavailable", reason=availability.reason)
        return
    record["emulated"] = bool(getattr(availability, "emulated", False))
    record["versions"] = _versions(mode, mode_settings)
    needs_image = not (kind == "bare" and mode_settings.get("variant") == "host")
    if needs_image and not image.get("reference"):
        images_json = Path(config["results"]) / "images" / f"{config['image']}.json"
        record.update(status="failed", reason=f"no image record {images_json} (run the images stage first)")
        return
    spec = RunSpec(
        run_id=cell.run_id,
        image_ref=image.get("reference") or "",
        mode=cell.mode,
        mode_settings=mode_settings,
        payload=cell.payload,
        copies=cell.copies,
        repetition=cell.repetition,
        copy_argv=payload.copy_argv(cell.copies, payload_settings),
        timeout_s=payload.timeout_s(payload_settings),
        needs_network=bool(getattr(payload, "needs_network", False)),
        cache_dir=str(config.get("cache", ".execbench/cache")),
    )
    record["timeout_s"] = spec.timeout_s
    record["copy_argv"] = spec.copy_argv
    record["factors"] = mode.factors(spec) if hasattr(mode, "factors") else {}
    if getattr(payload, "host_driven", False):
        results = payload.run_host(mode, spec, out_dir, payload_settings)
    else:
        results = mode.run(spec, out_dir)
    record["copies_result"] = [_copy_dict(r) for r in results]
    bad = [r for r in results if r.exit_code != 0 or r.timed_out]
    if len(results) != cell.copies:
        record.update(status="failed", reason=f"{len(results)} copy results for {cell.copies} copies")
    elif bad:
        record.update(status="failed", reason="; ".join(
            f"copy {r.copy}: " + ("timed out" if r.timed_out else f"exit code {r.exit_code}") + (f" ({r.detail})" if r.exit_code is None else "")
            for r in bad)[:2000])
    else:
        record.update(status="ok", reason=availability.reason)
