"""Plan before running: the run matrix, how long it will take, how much disk it needs, and where
the config came from (`bash scripts/run.sh --plan`, `python -m execbench plan`).

Estimates, per run of the matrix, in this order of preference (the source is printed per row):
  1. "this host": the median wall_s of earlier runs on this host (run.json of every results tree
     given, by default the study's own) with the same payload, payload size (or start-up samples),
     mode kind and copies;
  2. "this host, other copies": the same but another copy count, scaled by the copies per logical
     core (a rate run's copies run side by side: wall grows only past one copy per core);
  3. "reference": REFERENCE_RUN_S below, measured on the reference machine (2 cores), same scaling;
  4. unknown: counted as such, never as zero.
A mode that cannot run here (an earlier run of it was unavailable) costs what its availability
check cost. Every run also pays the chain's own cost between runs: PER_RUN_OVERHEAD_S, measured
as (the chain job's wall time - the sum of its runs' wall_s) / runs; and the study pays once for
what follows the runs (parse, tables, figures, report, export): STUDY_OVERHEAD_S. Disk: the median size of earlier run directories of the same cell (raw logs), else
REFERENCE_RUN_BYTES.

announce_config() is what the workflow prints at its start and stores as
<results>/.execbench/effective-config.yaml (with the config's sources in a header comment).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import layout
from .config import ConfigSource, config_sha256, describe_sources, logical_cores, run_matrix
from .fsutil import atomic_write_text

EFFECTIVE_CONFIG = ".execbench/effective-config.yaml"

# Measured on the reference machine (2 logical cores, Debian 12; `bash scripts/run.sh` of the
# default study and the standard-size runs of README "How long the full study takes"): wall_s of
# one run at 1 copy, per (payload, size). Copies up to the logical cores run side by side.
REFERENCE_MACHINE = "2-core Debian 12 development machine (Intel Xeon, AVX-512), 2026-11-30"
REFERENCE_RUN_S = {
    ("cpusuite", "smoke"): 10.0, ("hepchain", "smoke"): 6.5, ("db12", "smoke"): 5.0,
    ("stream", "smoke"): 4.5, ("fio", "smoke"): 5.0,
    # standard: one bare-metal run at 1 copy each (2026-11-30, `python -m execbench run`), on the
    # same machine while other studies loaded it (load 5-10 on 2 cores: walls 1.5-3x the work).
    # CPU-bound payloads: their copies' CPU seconds (what the wall is when the core is theirs);
    # fio: its wall (time-based, I/O-bound). Measured walls there: cpusuite 1272 s (9 units),
    # hepchain 215 s, db12 50 s, stream 90 s, fio 90 s.
    ("cpusuite", "standard"): 430.0, ("hepchain", "standard"): 105.0, ("db12", "standard"): 30.0,
    ("stream", "standard"): 55.0, ("fio", "standard"): 90.0,
}
# start-up: seconds per sample, per mode kind (the payload's wall is samples x this)
REFERENCE_STARTUP_SAMPLE_S = {"bare": 0.03, "docker": 2.6, "podman": 0.75, "vm": 15.0, "htcondor-docker": 30.0}
# a guest under TCG (allow_emulation where KVM cannot boot): 8-35x slower than native here
# (shared/machine-notes.md), plus its boot; the middle of that range
EMULATION_FACTOR = 20.0
VM_BOOT_S = 10.0
REFERENCE_RUN_BYTES = 200_000
# Measured on the 2-core development machine, default study, 2026-11-30: the chain job ran 726 s
# for 174 runs whose wall_s sum to 720.7 s; parse to study summary took 19 s. (2.0 s per run
# when every run was a Snakemake job of its own.)
PER_RUN_OVERHEAD_S = 0.05
STUDY_OVERHEAD_S = 20.0
UNAVAILABLE_S = 0.2


@dataclass(frozen=True)
class RunEstimate:
    cell: object  # config.RunCell
    wall_s: float | None  # None: unknown
    disk_bytes: int | None
    source: str  # "this host", "this host, other copies", "reference", "unavailable here", "unknown"


def _mode_key(kind: str, settings: dict) -> str:
    """What makes two runs of a mode the same speed: its kind, and whether a guest may be emulated."""
    return f"{kind}:emulated" if settings.get("allow_emulation") else kind


def _size_key(payload: str, settings: dict) -> str:
    """What makes two runs of a payload the same work: its size, or its start-up samples."""
    if "size" in settings:
        return str(settings["size"])
    if "samples" in settings:
        return f"samples={settings['samples']}"
    return ""


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


@dataclass
class History:
    """Earlier runs on this host: (payload, size key, mode kind, copies) -> wall_s and bytes lists."""

    wall: dict
    disk: dict
    unavailable: dict  # mode kind -> wall_s list of runs where it was unavailable
    runs: int


def read_history(results_dirs, hostname: str | None = None) -> History:
    """run.json of every run under each <results>/raw made on this host (unreadable files skipped)."""
    hostname = hostname or socket.gethostname()
    wall, disk, unavailable, count = defaultdict(list), defaultdict(list), defaultdict(list), 0
    for results in results_dirs:
        for key in layout.runs_on_disk(results):
            path = layout.run_json(results, key)
            try:
                run = json.loads(path.read_text())
                if (run.get("host") or {}).get("hostname") != hostname or run.get("wall_s") is None:
                    continue
                kind = _mode_key(run.get("mode_kind") or run["mode"], run.get("mode_settings") or {})
                if run.get("status") == "unavailable":
                    unavailable[kind].append(float(run["wall_s"]))
                    continue
                if run.get("status") != "ok":
                    continue
                cell = (run["payload"], _size_key(run["payload"], run.get("payload_settings") or {}), kind,
                        int(run["copies"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            count += 1
            wall[cell].append(float(run["wall_s"]))
            disk[cell].append(_dir_bytes(path.parent))
    return History(dict(wall), dict(disk), dict(unavailable), count)


def _scaled(wall_one: float, copies: int, cores: int) -> float:
    """A run of `copies` copies from one of 1 copy: side by side up to the cores, then in turns."""
    return wall_one * max(1.0, copies / cores)


def estimate(config: dict, history: History, cores: int | None = None) -> list[RunEstimate]:
    """One RunEstimate per run of the matrix (see the module docstring for the order of sources)."""
    cores = cores or logical_cores()
    out = []
    for cell in run_matrix(config, cores):
        settings = config["payloads"][cell.payload]
        kind = _mode_key(config["modes"][cell.mode]["kind"], config["modes"][cell.mode])
        size = _size_key(cell.payload, settings)
        key = (cell.payload, size, kind, cell.copies)
        disk = history.disk.get(key)
        disk_bytes = int(statistics.median(disk)) if disk else REFERENCE_RUN_BYTES
        if key in history.wall:
            out.append(RunEstimate(cell, statistics.median(history.wall[key]), disk_bytes, "this host"))
            continue
        if kind in history.unavailable and not any(k[2] == kind for k in history.wall):
            out.append(RunEstimate(cell, statistics.median(history.unavailable[kind]), 0, "unavailable here"))
            continue
        others = {k[3]: v for k, v in history.wall.items() if k[:3] == key[:3]}
        if others:
            copies, walls = min(others.items())
            wall_one = statistics.median(walls) / max(1.0, copies / cores)
            out.append(RunEstimate(cell, _scaled(wall_one, cell.copies, cores), disk_bytes, "this host, other copies"))
            continue
        if cell.payload == "startup":  # other sample counts on this host: seconds per sample
            per_sample = [statistics.median(v) / (int(k[1].split("=")[1]) + 1) for k, v in history.wall.items()
                          if k[0] == "startup" and k[2] == kind and k[3] == cell.copies and k[1].startswith("samples=")]
            if per_sample:
                wall = statistics.median(per_sample) * (settings.get("samples", 20) + 1)
                out.append(RunEstimate(cell, wall, disk_bytes, "this host, other sample counts"))
                continue
        emulated = kind.endswith(":emulated")
        bare = [v for k, v in history.wall.items() if k[:2] == key[:2] and k[2] == "bare"]
        if emulated and cell.payload != "startup" and bare:
            wall = EMULATION_FACTOR * statistics.median(min(bare, key=len)) + VM_BOOT_S
            out.append(RunEstimate(cell, wall, disk_bytes, f"bare metal here x {EMULATION_FACTOR:g} (TCG)"))
            continue
        reference = _reference_s(cell.payload, settings, kind.split(":")[0])
        if reference is not None:
            if emulated and cell.payload != "startup":
                reference = EMULATION_FACTOR * reference + VM_BOOT_S
            out.append(RunEstimate(cell, _scaled(reference, cell.copies, cores), disk_bytes, "reference"))
        else:
            out.append(RunEstimate(cell, None, disk_bytes, "unknown"))
    return out


def _reference_s(payload: str, settings: dict, kind: str) -> float | None:
    if payload == "startup":
        per_sample = REFERENCE_STARTUP_SAMPLE_S.get(kind)
        return None if per_sample is None else per_sample * (settings.get("samples", 20) + 1)
    return REFERENCE_RUN_S.get((payload, str(settings.get("size", ""))))


def duration(seconds: float) -> str:
    """'9 min 40 s', '3 h 05 min', '42 s'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def render(config: dict, sources: list[ConfigSource], estimates: list[RunEstimate], history: History,
           cores: int | None = None, image_build_s: float | None = None) -> str:
    """The plan as text: sources, the matrix per payload, the estimate and disk use."""
    cores = cores or logical_cores()
    runs = len(estimates)
    hosts = sorted({e.cell.host for e in estimates if e.cell.host}) or [socket.gethostname()]
    lines = [f"execbench plan: study '{config['study'].get('name', '')}', config from {describe_sources(sources)}",
             f"results: {config['results']}/   config sha256 {config_sha256(config)[:12]}",
             ""]
    by_payload = defaultdict(list)
    for e in estimates:
        by_payload[e.cell.payload].append(e)
    reps = config["study"]["repetitions"]
    header = ["payload", "size", "copies", "modes", "reps", "runs", "est. wall", "from"]
    rows = []
    for payload, group in by_payload.items():
        copies = sorted({e.cell.copies for e in group})
        in_group = {e.cell.mode for e in group}
        modes = [m for m in config["modes"] if m in in_group]  # as the config lists them
        known = [e.wall_s for e in group if e.wall_s is not None]
        unknown = len(group) - len(known)
        wall = duration(sum(known)) + (f" + {unknown} unknown" if unknown else "")
        sources_used = ", ".join(sorted({e.source for e in group}))
        size = _size_key(payload, config["payloads"][payload]) or "—"
        rows.append([payload, size, ", ".join(map(str, copies)), " ".join(modes), str(reps), str(len(group)), wall,
                     sources_used])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    payloads, modes = len(by_payload), len({e.cell.mode for e in estimates})
    copies_all = sorted({e.cell.copies for e in estimates})
    product = payloads * modes * len(copies_all) * reps
    # a product only when it is the count: payloads with their own copies, modes limited to some
    # payloads or copies, and the audit's one round make the matrix smaller than the product
    shape = "=" if product == runs else "of at most"
    lines += ["", f"matrix: {runs} runs {shape} {payloads} payloads x {modes} modes x copies {copies_all} "
                  f"x {reps} repetitions (each payload's copies and modes as above) on {len(hosts)} host(s): "
                  f"{', '.join(hosts)}"]
    known = [e.wall_s for e in estimates if e.wall_s is not None]
    unknown = runs - len(known)
    total = sum(known) + runs * PER_RUN_OVERHEAD_S + STUDY_OVERHEAD_S + (image_build_s or 0)
    per_source = defaultdict(int)
    for e in estimates:
        per_source[e.source] += 1
    how = "; ".join(f"{n} runs from {s}" for s, n in sorted(per_source.items()))
    lines.append(f"estimated wall time: {duration(total)}"
                 + (f" + {unknown} runs of unknown length" if unknown else "")
                 + f" ({how}; + {PER_RUN_OVERHEAD_S:g} s per run between runs, {STUDY_OVERHEAD_S:g} s for"
                 + " the report stage"
                 + (f"; + {duration(image_build_s)} image build" if image_build_s and image_build_s >= 1 else "")
                 + ")")
    adaptive = config["study"].get("adaptive") or {}
    if adaptive.get("target_half_width_pct") and int(adaptive.get("max_repetitions") or 0) > config["study"]["repetitions"]:
        budget = float(adaptive.get("max_extra_minutes") or 0.0)
        lines.append(f"  plus adaptive rounds (study.adaptive) where a cell is wider than "
                     f"±{adaptive['target_half_width_pct']:g} %: up to {adaptive['max_repetitions']} rounds, "
                     f"at most {duration(60 * budget)} more per host chain")
    if len(hosts) > 1:
        lines.append("  hosts run their chains in parallel: the wall time is one host's chain, "
                     f"{duration(total / len(hosts))} if the hosts are alike")
    lines.append(f"earlier runs read: {history.runs} on this host (run.json wall_s); reference machine: "
                 f"{REFERENCE_MACHINE}")
    disk = sum(e.disk_bytes or 0 for e in estimates)
    lines.append(f"disk: about {_bytes(disk)} of raw logs under {config['results']}/raw, plus parsed records, "
                 f"tables and the report (a few MB); the image and its exported root filesystem live in "
                 f"the registry and {config['cache']}")
    return "\n".join(lines) + "\n"


def history_dirs(config: dict, extra=()) -> list[str]:
    """Where earlier runs on this host are looked for: the study's own results, every results*
    directory of the working directory (the default study's and other studies'), and `extra`."""
    found = [config["results"], *sorted(str(p) for p in Path.cwd().glob("results*") if (p / "raw").is_dir()), *extra]
    return list(dict.fromkeys(str(Path(d).resolve()) for d in found))


def image_build_estimate(config: dict, dirs=()) -> float | None:
    """Seconds to build the study's image when its record is missing: the build time recorded by an
    earlier study's image record (results*/images/<name>.json, build_seconds), else 120 s (a build
    from nothing on the reference machine); None when the record exists."""
    name = f"{config['image']}.json"
    if (Path(config["results"]) / "images" / name).exists():
        return None
    seconds = []
    for d in dirs:
        try:
            seconds.append(float(json.loads((Path(d) / "images" / name).read_text())["build_seconds"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return statistics.median(seconds) if seconds else 120.0


def announce_config(config: dict, sources: list[ConfigSource], write: bool = True, stream=None) -> Path | None:
    """Print the effective config (one line per top-level key) and where it came from; store it as
    <results>/.execbench/effective-config.yaml when `write` (only when it changed)."""
    stream = stream or sys.stderr
    path = Path(config["results"]) / EFFECTIVE_CONFIG
    matrix = run_matrix(config)
    print(f"execbench: config from {describe_sources(sources)}; {len(matrix)} runs"
          + (f"; stored in {path}" if write else "") + " (bash scripts/run.sh --plan: matrix and time)",
          file=stream)
    for key in sorted(config):
        text = yaml.safe_dump({key: config[key]}, default_flow_style=True, width=10**6, sort_keys=True).strip()
        print(f"  {text[1:-1] if text.startswith('{') else text}", file=stream)
    if not write:
        return None
    header = "".join(f"# {i}. {s.kind}: {s.describe()}\n" for i, s in enumerate(sources, start=1))
    text = ("# execbench effective config of the last invocation (validated, defaults filled in), from:\n"
            + header + yaml.safe_dump(config, sort_keys=True, width=100))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            atomic_write_text(path, text)
    except OSError as err:  # a full disk: say so and go on; the stage that needs the space reports it too
        print(f"execbench: plan: the effective config was not stored in {path}: {err.strerror or err}",
              file=stream)
        return None
    return path
