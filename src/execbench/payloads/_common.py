"""Helpers shared by the payload modules: settings, copy directories, machine-level sums."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from ..records import Record

SIZES = ("smoke", "standard")
INIMAGE_DIR = "/opt/execbench"  # where src/execbench/inimage/ sits inside the image
VENV_PYTHON = "/opt/execbench/venv/bin/python"
COPY_DIR_RE = re.compile(r"^copy(\d+)$")


def size_of(name: str, settings: dict) -> str:
    size = (settings or {}).get("size", "smoke")
    if size not in SIZES:
        raise ConfigError(f"payloads.{name}.size", f"one of {list(SIZES)}", size)
    return size


def copy_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """(index, path) of every copy<i>/ under run_dir, in index order. The expected count comes
    from run.json when it is there, so a copy that left no directory is still accounted for."""
    run_dir = Path(run_dir)
    found = {int(m.group(1)): p for p in run_dir.iterdir() if (m := COPY_DIR_RE.match(p.name)) and p.is_dir()}
    expected = None
    run_json = run_dir / "run.json"
    if run_json.is_file():
        try:
            expected = int(json.loads(run_json.read_text()).get("copies"))
        except (ValueError, TypeError, json.JSONDecodeError):
            expected = None
    indices = range(expected) if expected else sorted(found)
    return [(i, found.get(i, run_dir / f"copy{i}")) for i in indices]


def copy_failure(copy_dir: Path) -> str:
    """Why a copy left no usable log, from the launcher's launch.json when present."""
    launch = copy_dir / "launch.json"
    if not launch.is_file():
        return f"{copy_dir.name}: no launch.json (the copy did not run)"
    try:
        info = json.loads(launch.read_text())
    except json.JSONDecodeError:
        return f"{copy_dir.name}: launch.json is not valid JSON"
    if info.get("timed_out"):
        return f"{copy_dir.name}: timed out after {info.get('wall_s')} s"
    return f"{copy_dir.name}: exit code {info.get('exit_code')}"


def failed_record(benchmark: str, metric: str, unit: str, higher: bool, source: Path, copy, detail: str) -> Record:
    return Record(benchmark=benchmark, metric=metric, value=None, unit=unit, higher_is_better=higher,
                  source_file=str(source), copy=copy, status="failed", detail=detail)


def machine_sums(per_copy: list[Record], copies: int, metrics: set[str]) -> list[Record]:
    """Machine-level records (copy=None): for each (benchmark, metric) in `metrics`, the sum over
    the copies run at once (HS06's rule for the score; events/s and MB/s likewise). A copy that
    is missing or not ok makes the machine value not ok too: no partial sums."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in per_copy:
        if record.metric in metrics and record.copy is not None:
            groups.setdefault((record.benchmark, record.metric), []).append(record)
    out = []
    for (benchmark, metric), records in groups.items():
        first = records[0]
        bad = [r for r in records if r.status != "ok"]
        have = {r.copy for r in records}
        missing = [i for i in range(copies) if i not in have]
        if bad or missing:
            why = "; ".join([f"copy {r.copy}: {r.detail or r.status}" for r in bad] +
                            [f"copy {i}: no value" for i in missing])
            status = "failed" if any(r.status == "failed" for r in bad) or missing else "invalid"
            out.append(replace(first, copy=None, value=None, status=status, source_line=None,
                               detail=f"sum over {copies} copies not available: {why}"))
        else:
            out.append(replace(first, copy=None, value=sum(r.value for r in records), source_line=None,
                               detail=f"sum over {copies} copies", source_file=str(Path(first.source_file).parent.parent)))
    return out


def parse_copies(run_dir: Path, log_name: str, parser_format: str, summed_metrics: set[str],
                 missing: tuple[str, str, str, bool]) -> list[Record]:
    """Per-copy records from copy<i>/<log_name> through the registered parser (each attributed to
    copy i), plus the machine-level sums of `summed_metrics`. A copy without its log gives one
    failed record `missing` = (benchmark, metric, unit, higher_is_better) naming why; a log that
    is there but malformed raises the parser's ParseError."""
    from .. import parsers

    parser = parsers.get(parser_format)
    per_copy: list[Record] = []
    copies = copy_dirs(Path(run_dir))
    for index, directory in copies:
        log = directory / log_name
        if not log.is_file():
            per_copy.append(failed_record(*missing, log, index, f"no {log_name}: {copy_failure(directory)}"))
            continue
        per_copy += [replace(r, copy=index) for r in parser.parse(log)]
    return per_copy + machine_sums(per_copy, len(copies), summed_metrics)
