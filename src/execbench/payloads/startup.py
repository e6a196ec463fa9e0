"""Startup latency: how long it takes to start a trivial process and see it exit, per mode.

Measured on the host around the mode's own start path (fork/chroot/exec for
bare, create+start+wait+remove through the Docker API for docker, `podman run
--rm` as the rootless user for podman, boot a fresh guest, run, power off for vm),
hardened exactly like a payload run. A mode may also time phases of a sample (vm:
boot_to_ready_s, shutdown_s): they go in the detail column as name_s=<seconds> and
parse into <name>_median records next to latency_median.
Each sample starts `copies` environments at once (spin-up of a full node).
Native log: copy<i>/startup_samples.csv, one row per sample; the first sample
is a warm-up (first use of the image's files) and is kept but not counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Mapping

from ..errors import ParseError
from ..modes.base import CopyResult, Mode, RunContext, RunOutcome
from ..records import Record, failed_record
from .base import Payload, copy_dirs, copy_failure

TRIVIAL_ARGV = ["/bin/true"]
LOG_FILE = "startup_samples.csv"
# On a stop (SIGTERM), how long the samples in flight get to finish and remove their environment.
STOP_WAIT_S = 60.0
COLUMNS = ["sample", "warmup", "started_utc", "seconds", "status", "detail"]


class Startup(Payload):
    name = "startup"
    description = "start-up latency: start a trivial process in a fresh environment of the mode and see it exit"
    settings_schema = {
        "samples": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 20,
                    "description": "Start/exit samples per run (plus one warm-up sample, not counted)."},
    }
    sizes = ()
    default_timeout_s = 120.0  # per sample: a start that takes longer is hung
    host_driven = True

    def argv(self, settings: Mapping, unit: str = "") -> list[str]:
        return list(TRIVIAL_ARGV)

    def run_host(self, mode: Mode, ctx: RunContext, settings: Mapping) -> RunOutcome:
        samples = settings["samples"]
        out_dir = ctx.out_dir
        rows: dict[int, list[dict]] = {i: [] for i in range(ctx.copies)}
        timed_out: set[int] = set()
        t0 = time.monotonic()
        for sample in range(samples + 1):  # sample 0 = warm-up
            outcome: dict[int, dict] = {}

            finished = {i: threading.Event() for i in range(ctx.copies)}

            def one(copy: int) -> None:
                started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
                row = {"sample": sample, "warmup": int(sample == 0), "started_utc": started}
                try:
                    measured = mode.startup_sample(ctx, list(ctx.argv))
                    row.update(seconds=f"{measured.seconds:.6f}", status="ok", detail=_phases_text(measured.phases))
                except Exception as err:  # recorded per sample: the run is then failed
                    row.update(seconds="", status="failed", detail=f"{type(err).__name__}: {err}"[:300])
                finally:
                    finished[copy].set()
                outcome[copy] = row

            threads = {i: threading.Thread(target=one, args=(i,), daemon=True) for i in range(ctx.copies)}
            for thread in threads.values():
                thread.start()
            deadline = time.monotonic() + ctx.timeout_s
            try:
                for copy, thread in threads.items():
                    thread.join(max(0.0, deadline - time.monotonic()))
                    if thread.is_alive():
                        timed_out.add(copy)
                        outcome[copy] = {"sample": sample, "warmup": int(sample == 0), "started_utc": "",
                                         "seconds": "", "status": "timeout", "detail": f"> {ctx.timeout_s:g} s"}
            except BaseException:  # stopped (SIGTERM): let the samples in flight remove their containers
                # (not Thread.join again: a join a signal handler's exception interrupted has marked
                # the still running thread stopped in Python 3.11, and would return at once)
                for event in finished.values():
                    event.wait(min(ctx.timeout_s, STOP_WAIT_S))
                raise
            for copy in threads:
                rows[copy].append(outcome[copy])
            if timed_out:
                break  # a hung start: stop sampling, report what we have
        wall = time.monotonic() - t0
        results = []
        for copy, copy_rows in rows.items():
            directory = out_dir / f"copy{copy}"
            directory.mkdir(parents=True, exist_ok=True)
            with open(directory / LOG_FILE, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(copy_rows)
            bad = [r for r in copy_rows if r["status"] != "ok"]
            results.append(CopyResult(copy=copy, exit_code=1 if bad else 0, wall_s=wall, timed_out=copy in timed_out,
                                      detail=f"{len(copy_rows)} samples, {len(bad)} not ok"
                                      + (f"; first: {bad[0]['detail']}" if bad else "")))
        return RunOutcome(copies=results, factors={"startup_samples": samples, "argv": list(ctx.argv)})

    def parse(self, run_dir: Path) -> list[Record]:
        records: list[Record] = []
        counted: list[float] = []
        phases_all: dict[str, list[float]] = {}
        for index, directory in copy_dirs(Path(run_dir)):
            log = directory / LOG_FILE
            if not log.is_file():
                records.append(failed_record("startup", "latency_median", "s", False, log, index,
                                             f"no {LOG_FILE}: {copy_failure(directory)}"))
                continue
            values, problems, phases = _read_samples(log)
            if problems or not values:
                records.append(failed_record("startup", "latency_median", "s", False, log, index,
                                             problems or "no counted samples"))
                continue
            counted += values
            records.append(Record("startup", "latency_median", statistics.median(values), "s", False, str(log),
                                  copy=index, detail=f"median of {len(values)} samples (warm-up excluded)"))
            for phase, phase_values in phases.items():
                phases_all.setdefault(phase, []).extend(phase_values)
                records.append(Record("startup", f"{phase}_median", statistics.median(phase_values), "s", False,
                                      str(log), copy=index,
                                      detail=f"median of {len(phase_values)} samples (warm-up excluded)"))
        if counted and all(r.status == "ok" for r in records):
            records.append(Record("startup", "latency_median", statistics.median(counted), "s", False, str(run_dir),
                                  detail=f"median of {len(counted)} samples over all copies (warm-up excluded)"))
            for phase, phase_values in phases_all.items():
                records.append(Record("startup", f"{phase}_median", statistics.median(phase_values), "s", False,
                                      str(run_dir), detail=f"median of {len(phase_values)} samples over all copies "
                                                           "(warm-up excluded)"))
        else:
            records.append(failed_record("startup", "latency_median", "s", False, Path(run_dir), None,
                                         "not every copy has usable samples"))
        return records


PHASE_RE = re.compile(r"^([a-z_]+)_s=([0-9.]+)$")


def _phases_text(phases: dict) -> str:
    """detail column of an ok sample: its timed phases, e.g. "boot_to_ready_s=9.1 shutdown_s=0.2"."""
    return " ".join(f"{name}={value:.6f}" for name, value in phases.items() if value is not None)


def _read_samples(path: Path) -> tuple[list[float], str, dict[str, list[float]]]:
    """Counted (non-warm-up) latencies; a failed sample makes the copy failed (returned as text);
    phases (name without _s -> counted values) where every counted sample has them.
    A malformed file raises ParseError naming the line."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != COLUMNS:
            raise ParseError(path, 1, f"CSV header {','.join(COLUMNS)}")
        values, problems, phases, samples_with_phases = [], [], {}, 0
        for line, row in enumerate(reader, start=2):
            if len(row) != len(COLUMNS):
                raise ParseError(path, line, f"{len(COLUMNS)} comma-separated fields ({','.join(COLUMNS)})")
            item = dict(zip(COLUMNS, row))
            if item["status"] != "ok":
                problems.append(f"sample {item['sample']}: {item['status']} {item['detail']}".strip())
                continue
            try:
                seconds = float(item["seconds"])
            except ValueError:
                raise ParseError(path, line, "a number of seconds in column 'seconds'") from None
            if item["warmup"] not in ("0", "1"):
                raise ParseError(path, line, "0 or 1 in column 'warmup'")
            if item["warmup"] == "0":
                values.append(seconds)
                found = [PHASE_RE.match(token) for token in item["detail"].split()]
                if found and all(found):
                    samples_with_phases += 1
                    for match in found:
                        phases.setdefault(match.group(1), []).append(float(match.group(2)))
                elif found:
                    raise ParseError(path, line, "phase timings as name_s=<seconds> in column 'detail'")
    if samples_with_phases != len(values) or any(len(v) != len(values) for v in phases.values()):
        phases = {}  # only where every counted sample timed the same phases
    return values, "; ".join(problems), phases
