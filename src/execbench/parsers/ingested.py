"""A run directory written by execbench.ingest: parse each ingested input with its own format.

ingest.py records in run.json which inputs it copied, where (`copy<i>/` or `machine/`) and in
which format. This parser hands each input to that format's parser: through its `parts` for a
result directory (parsers.layouts), and for a file holding several runs only the records of
its `run_in_file` (the file is parsed once per process and shared by the runs that name it). Records of a per-copy
input are attributed to that copy; for per-copy inputs the machine-level record of each
number is then derived by the one rule every payload uses (records.machine_level: sum over
copies for higher-is-better numbers such as ratios, events/s and MB/s, mean for times; no
value, naming the copies, when a copy is missing or not ok). An input that no longer parses
gives a failed record with the ParseError in its detail; the other inputs still count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ParseError
from ..records import Record, machine_level
from .base import Parser
from ._common import (
    RUN_IN_FILE,
    guarded_detect,
    guarded_parse,
    records_of_run,
    runs_in_file,
    unparsable_file_record,
)

PER_ITERATION_KEYS = ("iteration", "repetition")
_CACHE: dict = {}
_CACHE_FILES = 64


def _parse_cached(fmt: str, target: Path) -> list[Record]:
    """Parse one input, once per process for a file that several runs share (a file holding N runs
    is read by N run directories: without this, N^2 parses)."""
    from . import get  # late: the registry imports this module lazily

    try:
        st = target.stat()
        # normpath, not resolve(): the runs sharing a file name it as ../r1/..., one string for all
        key = (fmt, os.path.normpath(target), st.st_size, st.st_mtime_ns)
    except OSError:
        return get(fmt).parse(target)  # names the missing file
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_FILES:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = get(fmt).parse(target)
    return _CACHE[key]


class IngestedRunParser(Parser):
    format = "ingested"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        run_json = path / "run.json"
        return path.is_dir() and run_json.is_file() and json.loads(run_json.read_text()).get("ingested") is True

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        run_json = path / "run.json"
        try:
            run = json.loads(run_json.read_text())
        except (OSError, ValueError) as exc:
            raise ParseError(run_json, None, f"a readable run.json written by ingest ({exc})") from None
        inputs = (run.get("ingest") or {}).get("inputs")
        if not run.get("ingested") or not isinstance(inputs, list):
            raise ParseError(run_json, None, "an ingested run.json ('ingested': true, 'ingest': {'inputs': [...]})")
        records: list[Record] = []
        per_copy = False
        for entry in inputs:
            copy = entry.get("copy")
            found = []
            # a result directory is read through its parts; older ingests name one input and its format
            for part in entry.get("parts") or [{"dest": entry["dest"], "format": entry["format"]}]:
                target = path / part["dest"]
                try:
                    part_records = _parse_cached(part["format"], target)
                except ParseError as exc:
                    found.append(unparsable_file_record(part["format"], "input", target, exc, None))
                    continue
                which = entry.get(RUN_IN_FILE)
                if which is None and runs_in_file(part_records) > 1:
                    found.append(unparsable_file_record(part["format"], "input", target, ParseError(
                        target, None, f"one run per ingested input, found {runs_in_file(part_records)} "
                                      "(ingest maps them onto repetitions; ingest this file again)"), None))
                    continue
                found += records_of_run(part_records, which) if which is not None else part_records
            if copy is not None:
                per_copy = True
                found = [r.with_copy(copy) for r in found]
            records += found
        if per_copy:
            # per-iteration records (a file holding several runs) are not a copy's value
            values = [r for r in records if not any(k in r.extra for k in PER_ITERATION_KEYS)]
            records += machine_level(values, int(run.get("copies") or 1), source=path)
        return records


PARSER = IngestedRunParser()
