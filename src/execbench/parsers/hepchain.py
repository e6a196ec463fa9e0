"""execbench HEP chain log `hepchain.log` (written by inimage/hepchain.py), one per copy.

Shape:

    execbench hepchain 1 size=smoke copy=0 events=150 seed=2015 started=... host=...
    step=gen events=150 wall_s=2.3906 cpu_s=2.3715 events_per_s=62.7466 status=ok output=EVNT.root tool="pythia8mc 8.317.2"
    step=sim ... status=failed ... reason="..."        (one line per step that ran)
    chain events=150 wall_s=3.5231 cpu_s=3.4961 events_per_s=42.5759 status=ok
    ! <why the chain failed>                             (only when it failed)
    reco jets=543 mean_leading_jet_pt=128.5020 digest=...
    ended=...

Numbers that do not exist are `--`. Records: per step `hepchain.<step>` and for the whole chain
`hepchain`: events_per_s (events/s, wall-clock based, as KV-style throughput), wall_time and
cpu_time (s). A failed step or chain gives failed records with value None and the reason.
Several logs concatenated in one file give one run each (one per header line).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, parse_runs, peek_text, read_text, try_number

HEADER_RE = re.compile(r"^execbench hepchain (\d+) (.*)$")
METRICS = (("events_per_s", "events_per_s", "events/s", True), ("wall_s", "wall_time", "s", False),
           ("cpu_s", "cpu_time", "s", False))


def _fields(path: Path, number: int, text: str) -> dict:
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise ParseError(path, number, "key=value fields (with balanced quotes)") from None
    pairs = [t.split("=", 1) for t in tokens]
    if any(len(p) != 2 for p in pairs):
        raise ParseError(path, number, "only key=value fields")
    return dict(pairs)


class HepChainParser(Parser):
    format = "hepchain"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        if path.is_dir():
            path = path / "hepchain.log"
        return HEADER_RE.match(peek_text(path, 300).split("\n", 1)[0]) is not None

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        if path.is_dir():
            path = path / "hepchain.log"
        lines = read_text(path).splitlines()
        # a file holding several logs one after the other: one run per header line
        starts = [i for i, line in enumerate(lines) if HEADER_RE.match(line)]
        if len(starts) > 1:
            return parse_runs(path, lines, starts, lambda p, text: self.parse_one(p, text.splitlines()))
        return self.parse_one(path, lines)

    def parse_one(self, path: Path, lines: list[str]) -> list[Record]:
        header = HEADER_RE.match(lines[0])
        if not header:
            raise ParseError(path, 1, "the header 'execbench hepchain <version> size=... copy=... events=...'")
        if header.group(1) != "1":
            raise ParseError(path, 1, f"hepchain log format version 1, got {header.group(1)}")
        meta = _fields(path, 1, header.group(2))
        copy = int(meta["copy"]) if meta.get("copy", "").isdigit() else None
        reason = next((line[2:] for line in lines if line.startswith("! ")), "")
        records: list[Record] = []
        chain_seen = False
        for number, line in enumerate(lines[1:], start=2):
            if line.startswith("step="):
                fields = _fields(path, number, line)
                benchmark = f"hepchain.{fields['step']}"
                detail = fields.get("reason", "")
                extra = {"tool": fields.get("tool", ""), "events": try_number(fields.get("events")),
                         "size": meta.get("size", "")}
            elif line.startswith("chain "):
                chain_seen = True
                fields = _fields(path, number, line[len("chain "):])
                benchmark, detail = "hepchain", reason
                extra = {"events": try_number(fields.get("events")), "size": meta.get("size", "")}
            else:
                continue
            status = fields.get("status")
            if status not in ("ok", "failed"):
                raise ParseError(path, number, f"status=ok or status=failed, got {status!r}")
            for key, metric, unit, higher in METRICS:
                if key not in fields:
                    raise ParseError(path, number, f"a {key}= field")
                value = try_number(fields[key])
                if status == "ok" and value is None:
                    raise ParseError(path, number, f"a number for {key} on a step with status=ok")
                records.append(Record(benchmark=benchmark, metric=metric, value=value if status == "ok" else None,
                                      unit=unit, higher_is_better=higher, source_file=str(path),
                                      source_line=number, copy=copy,
                                      status="ok" if status == "ok" else "failed",
                                      detail="" if status == "ok" else (detail or "step failed"), extra=extra))
        if not chain_seen:
            raise ParseError(path, len(lines), "a 'chain events=... status=...' line")
        return records


PARSER = HepChainParser()
