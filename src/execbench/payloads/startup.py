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

from ..errors import ConfigError, ParseError
from ..modes.base import CopyResult, ModeError, RunSpec
from ..records import Record
from ._common import copy_dirs, copy_failure, failed_record

TRIVIAL_ARGV = ["/bin/true"]
LOG_FILE = "startup_samples.csv"
COLUMNS = ["sample", "warmup", "started_utc", "seconds", "status", "detail"]
DEFAULT_SAMPLES = 20
DEFAULT_TIMEOUT_S = 120.0  # per sample


class Startup:
    name = "startup"
    needs_network = False
    # The runner hands this payload the mode (run_host) instead of starting copies
    # through the in-image launcher: the latency is the harness's own start path.
    host_driven = True

    def samples(self, settings: dict) -> int:
        samples = (settings or {}).get("samples", DEFAULT_SAMPLES)
        if not isinstance(samples, int) or samples < 1:
            raise ConfigError("payloads.startup.samples", "an integer >= 1", samples)
        return samples

    def copy_argv(self, copies: int, settings: dict) -> list[list[str]]:
        return [list(TRIVIAL_ARGV) for _ in range(copies)]

    def timeout_s(self, settings: dict) -> float:
        return float((settings or {}).get("timeout_s", DEFAULT_TIMEOUT_S))

    def run_host(self, mode, spec: RunSpec, out_dir: Path, settings: dict) -> list[CopyResult]:
        if not callable(getattr(mode, "startup_sample", None)):
            raise ModeError(f"mode kind {getattr(mode, 'kind', '?')!r} cannot measure startup (no startup_sample)")
        samples = self.samples(settings)
        rows: dict[int, list[dict]] = {i: [] for i in range(spec.copies)}
        timed_out: set[int] = set()
        t0 = time.monotonic()
        for sample in range(samples + 1):  # sample 0 = warm-up
            outcome: dict[int, dict] = {}

            def one(copy: int) -> None:
                started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
                row = {"sample": sample, "warmup": int(sample == 0), "started_utc": started}
                try:
                    sample_value = mode.startup_sample(spec, spec.copy_argv[copy])
                    # a mode may also time phases of the sample (vm: boot_to_ready_s, shutdown_s)
                    seconds, phases = sample_value if isinstance(sample_value, tuple) else (sample_value, {})
                    row.update(seconds=f"{seconds:.6f}", status="ok", detail=_phases_text(phases))
                except Exception as err:  # recorded per sample: the run is then failed
                    row.update(seconds="", status="failed", detail=f"{type(err).__name__}: {err}"[:300])
                outcome[copy] = row

            threads = {i: threading.Thread(target=one, args=(i,), daemon=True) for i in range(spec.copies)}
            for thread in threads.values():
                thread.start()
            deadline = time.monotonic() + spec.timeout_s
            for copy, thread in threads.items():
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    timed_out.add(copy)
                    outcome[copy] = {"sample": sample, "warmup": int(sample == 0), "started_utc": "",
                                     "seconds": "", "status": "timeout", "detail": f"> {spec.timeout_s:g} s"}
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
        return results

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
