"""A run directory written by execbench.ingest: parse each ingested input with its own format.

ingest.py records in run.json which inputs it copied, where (`copy<i>/` or `machine/`) and in
which format. This parser hands each input to that format's parser. Records of a per-copy
input are attributed to that copy; for per-copy inputs the machine-level record of each
number is then derived by the one rule every payload uses (records.machine_level: sum over
copies for higher-is-better numbers such as ratios, events/s and MB/s, mean for times; no
value, naming the copies, when a copy is missing or not ok). An input that no longer parses
gives a failed record with the ParseError in its detail; the other inputs still count.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ParseError
from ..records import Record, machine_level
from .base import Parser
from ._common import guarded_detect, guarded_parse, unparsable_file_record

PER_ITERATION_KEYS = ("iteration", "repetition")


class IngestedRunParser(Parser):
    format = "ingested"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        run_json = path / "run.json"
        return path.is_dir() and run_json.is_file() and json.loads(run_json.read_text()).get("ingested") is True

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        from . import get  # late: the registry imports this module lazily

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
            target = path / entry["dest"]
            copy = entry.get("copy")
            try:
                found = get(entry["format"]).parse(target)
            except ParseError as exc:
                records.append(unparsable_file_record(entry["format"], "input", target, exc, copy))
                continue
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
