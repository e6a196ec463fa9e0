"""Classic STREAM (McCalpin, stream.c v5.x) text output.

The results table:
    Function    Best Rate MB/s  Avg time     Min time     Max time
    Copy:           22066.0     0.007328     0.007251     0.007436
    Scale: / Add: / Triad:  (same columns)
then the validation verdict: `Solution Validates: avg error less than ... on all three arrays`,
or `Failed Validation on array a[] ...` (and `ERROR:` lines). A run that did not validate gives
`failed` records (value None, the printed rate kept in `extra["measured"]`): a fast wrong
answer is not a bandwidth.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, number, peek_text, read_text

KERNELS = ("Copy", "Scale", "Add", "Triad")
HEADING_RE = re.compile(r"^Function\s+Best Rate MB/s\s+Avg time\s+Min time\s+Max time")
ROW_RE = re.compile(r"^(Copy|Scale|Add|Triad):\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def _facts(text: str) -> dict:
    facts = {}
    for key, pattern in (
        ("version", r"STREAM version \$Revision:\s*([\d.]+)"),
        ("array_size", r"Array size = (\d+)"),
        ("ntimes", r"Each kernel will be executed (\d+) times"),
        ("threads", r"Number of Threads counted = (\d+)"),
        ("bytes_per_element", r"This system uses (\d+) bytes per array element"),
    ):
        m = re.search(pattern, text)
        if m:
            facts[key] = m.group(1) if key == "version" else int(m.group(1))
    return facts


class StreamParser(Parser):
    format = "stream"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        head = peek_text(path, 16384)
        return "STREAM version" in head or any(HEADING_RE.match(line) for line in head.splitlines())

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        lines = read_text(path).splitlines()
        heading = next((i for i, line in enumerate(lines) if HEADING_RE.match(line)), None)
        if heading is None:
            raise ParseError(path, None, "the STREAM results heading 'Function    Best Rate MB/s  Avg time ...'")
        rows = {}
        idx = heading + 1
        for kernel in KERNELS:
            if idx >= len(lines):
                raise ParseError(path, len(lines), f"the '{kernel}:' result row (file truncated?)")
            m = ROW_RE.match(lines[idx])
            if not m or m.group(1) != kernel:
                raise ParseError(path, idx + 1, f"the '{kernel}:' row with rate, avg, min and max time")
            values = [
                number(m.group(k), path, idx + 1, f"{kernel} {name}")
                for k, name in ((2, "best rate"), (3, "avg time"), (4, "min time"), (5, "max time"))
            ]
            rows[kernel] = (values, idx + 1)
            idx += 1
        verdict = None
        for i in range(idx, len(lines)):
            line = lines[i]
            if line.startswith("Solution Validates"):
                verdict = ("ok", i + 1, line.strip())
                break
            if line.startswith("Failed Validation") or line.startswith("ERROR"):
                verdict = ("failed", i + 1, line.strip())
                break
        if verdict is None:
            raise ParseError(
                path,
                len(lines),
                "'Solution Validates' or a 'Failed Validation' line after the results (file truncated?)",
            )
        status, verdict_line, verdict_text = verdict
        facts = _facts("\n".join(lines[:heading]))
        records = []
        for kernel, ((rate, avg, tmin, tmax), lineno) in rows.items():
            extra = dict(facts, avg_time_s=avg, min_time_s=tmin, max_time_s=tmax, verdict_line=verdict_line)
            if status == "ok" and rate > 0:
                records.append(
                    Record(kernel.lower(), "bandwidth", rate, "MB/s", True, str(path), source_line=lineno, extra=extra)
                )
            else:
                records.append(
                    Record(
                        kernel.lower(),
                        "bandwidth",
                        None,
                        "MB/s",
                        True,
                        str(path),
                        status="failed",
                        source_line=lineno,
                        detail=(
                            f"STREAM did not validate (line {verdict_line}: {verdict_text})"
                            if status != "ok"
                            else f"non-positive rate {rate}"
                        ),
                        extra=dict(extra, measured=rate),
                    )
                )
        return records


PARSER = StreamParser()
