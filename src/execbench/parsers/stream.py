"""STREAM (McCalpin) text output, every published layout of its results table.

Variants read (layouts as printed by the sources named; docs/log-formats.md has the fixtures):

| variant | heading | rows | verdict |
|---|---|---|---|
| stream.c 5.10 (jeffhammond/STREAM: stream.c, `STREAM version $Revision: 5.10 $`) | `Function    Best Rate MB/s  Avg time     Min time     Max time` | `%s%12.1f  %11.6f ...` | `Solution Validates: avg error less than ...` / `Failed Validation on array a[], ...` |
| stream.c 5.8 / 5.9 (gregs1104/stream-scaling README sample; the 5.9 source) | `Function      Rate (MB/s)   Avg time     Min time     Max time` | `%s%11.4f  %11.4f ...` | `Solution Validates` / `Failed Validation on array a[]` |
| stream.f 5.6 (jeffhammond/STREAM: stream.f, FORMAT 9040/9050) | `Function     Rate (MB/s)  Avg time   Min time  Max time` | `(a,f10.1,2x,3(f10.6,2x))`, before 2025 `(a,4(f10.4,2x))` | ` Solution Validates!` / ` Failed Validation on array a()` (list-directed: leading space) |
| HPC Challenge StarSTREAM (icl-utk-edu/hpcc: STREAM/stream.c; hpccoutf.txt) | `Function      Rate (GB/s)   Avg time     Min time     Max time` | `%s%11.4f  %11.4f ...`, GB = 1e9 bytes | as 5.9, or as 5.10 (HPCC 1.5) |

Records: one `bandwidth` record per kernel (Copy, Scale, Add, Triad) in MB/s (10^6 bytes/s, as
STREAM defines it; HPCC's GB/s are multiplied by 1000, the printed value kept in
`extra["printed_rate"]`). `extra` holds the variant, the STREAM version when printed, the array
size, NTIMES, the thread count (`Number of Threads counted`, else `requested`, else the number of
`Printing one line per active thread....` lines of OpenMP builds) and the kernel's avg/min/max
times. A run that did not validate gives `failed` records (value None, the printed rate in
`extra["measured"]`): a fast wrong answer is not a bandwidth.

Several runs in one file (a loop appending to one log): every results table is one run; the
lines after one run's verdict up to the next table belong to the next run. Records are tagged
`run_in_file` / `runs_in_file` (parsers._common). Refused with a ParseError naming the variant:
a heading without a rate column (modified copies printing `Bytes AvgClks ...`), a rate printed as
`**********` (stream.f's field overflow before 2025: the number is lost), a table missing a
kernel, a run without its verdict.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from ..errors import ParseError
from ..records import Record
from .base import Parser
from ._common import guarded_detect, guarded_parse, number, peek_text, read_text, tag_runs

KERNELS = ("Copy", "Scale", "Add", "Triad")
# heading -> (variant, factor to MB/s)
HEADINGS = (
    (re.compile(r"^Function\s+Best Rate MB/s\s+Avg time\s+Min time\s+Max time"), "stream.c 5.10", 1.0),
    (re.compile(r"^Function\s+Rate \(MB/s\)\s+Avg time\s+Min time\s+Max time"), "stream.c 5.8/5.9 or stream.f", 1.0),
    (re.compile(r"^Function\s+Rate \(GB/s\)\s+Avg time\s+Min time\s+Max time"), "HPC Challenge (GB/s)", 1000.0),
)
ANY_HEADING_RE = re.compile(r"^Function\s+\S")
ROW_RE = re.compile(r"^\s*(Copy|Scale|Add|Triad):\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
VALIDATES = ("Solution Validates",)
FAILS = ("Failed Validation", "ERROR")
FACTS = (
    ("version", re.compile(r"STREAM [Vv]ersion \$Revision:\s*([\d.]+)")),
    ("array_size", re.compile(r"Array size\s*=\s*(\d+)")),
    ("ntimes", re.compile(r"(?:Each kernel will be executed|Each test is run|running each test)\s+(\d+)\s+times")),
    ("threads_counted", re.compile(r"Number of Threads counted\s*=\s*(\d+)")),
    ("threads_requested", re.compile(r"Number of Threads(?: requested)?\s*=\s*(\d+)")),
    ("bytes_per_element", re.compile(r"(?:uses|Assuming)\s+(\d+)\s+bytes per")),
)
THREAD_LINE = "Printing one line per active thread"


def _facts(lines: list[str]) -> dict:
    text = "\n".join(lines)
    facts: dict = {}
    for key, pattern in FACTS:
        m = pattern.search(text)
        if m:
            facts[key] = m.group(1) if key == "version" else int(m.group(1))
    thread_lines = sum(THREAD_LINE in line for line in lines)
    threads = facts.get("threads_counted", facts.get("threads_requested"))
    if threads is None and thread_lines:
        threads = thread_lines
    if threads is not None:
        facts["threads"] = threads
    if thread_lines:
        facts["thread_lines"] = thread_lines
    return facts


def _variant(preamble: list[str], by_heading: str, version: str | None) -> str:
    """Which program printed the run: stream.f (list-directed 'STREAM Version'), stream.c, HPCC."""
    if by_heading.startswith("HPC"):
        return "HPC Challenge StarSTREAM (GB/s)"
    if any("STREAM Version $Revision" in line for line in preamble):
        return f"stream.f {version}"
    if version:
        return f"stream.c {version}"
    return f"STREAM without a version line ({by_heading} heading)"


def _heading(line: str):
    for pattern, variant, factor in HEADINGS:
        if pattern.match(line):
            return variant, factor
    return None


def _run_records(path: Path, lines: list[str], start: int, heading: int, variant: str, factor: float,
                 run_end: int) -> tuple[list[Record], int]:
    """Records of the run whose table heading is at index `heading`; returns them and the index of
    the verdict line. `start` is the first line of the run (facts are read from start..heading)."""
    rows = {}
    idx = heading + 1
    for kernel in KERNELS:
        if idx >= run_end:
            raise ParseError(path, min(idx, len(lines)), f"the '{kernel}:' result row (file truncated?)")
        m = ROW_RE.match(lines[idx])
        if not m or m.group(1) != kernel:
            raise ParseError(path, idx + 1, f"the '{kernel}:' row with rate, avg, min and max time ({variant})")
        if set(m.group(2)) == {"*"}:
            raise ParseError(path, idx + 1, f"a {kernel} rate, found {m.group(2)!r} (stream.f's Fortran field "
                                            "overflowed: the number is lost)")
        values = [number(m.group(k), path, idx + 1, f"{kernel} {name}")
                  for k, name in ((2, "rate"), (3, "avg time"), (4, "min time"), (5, "max time"))]
        rows[kernel] = (values, idx + 1, m.group(2))
        idx += 1
    verdict = None
    for i in range(idx, run_end):
        line = lines[i].strip()
        if line.startswith(VALIDATES):
            verdict = ("ok", i, line)
            break
        if line.startswith(FAILS):
            verdict = ("failed", i, line)
            break
    if verdict is None:
        raise ParseError(path, run_end, "'Solution Validates' or a 'Failed Validation' line after the results "
                                        "(file truncated?)")
    status, verdict_idx, verdict_text = verdict
    facts = _facts(lines[start:heading])
    facts.update(variant=_variant(lines[start:heading], variant, facts.get("version")), heading=lines[heading].strip())
    records = []
    for kernel, ((rate, avg, tmin, tmax), lineno, token) in rows.items():
        extra = dict(facts, avg_time_s=avg, min_time_s=tmin, max_time_s=tmax, verdict_line=verdict_idx + 1)
        if factor != 1.0:
            extra["printed_rate"] = rate
        mbs = rate if factor == 1.0 else float(Decimal(token) * Decimal(factor))  # 8.5584 GB/s = 8558.4 MB/s
        if status == "ok":
            records.append(Record(kernel.lower(), "bandwidth", mbs, "MB/s", True, str(path), source_line=lineno,
                                  extra=extra))
        else:
            records.append(Record(kernel.lower(), "bandwidth", None, "MB/s", True, str(path), status="failed",
                                  source_line=lineno,
                                  detail=f"STREAM did not validate (line {verdict_idx + 1}: {verdict_text})",
                                  extra=dict(extra, measured=mbs)))
    return records, verdict_idx


class StreamParser(Parser):
    format = "stream"

    @guarded_detect
    def detect(self, path: Path) -> bool:
        head = peek_text(path, 16384)
        # hpccoutf.txt: HPC Challenge's whole output; its StarSTREAM section may lie past the head
        return ("STREAM version" in head or "STREAM Version" in head or "HPC Challenge Benchmark" in head
                or any(_heading(line) for line in head.splitlines()))

    @guarded_parse
    def parse(self, path: Path) -> list[Record]:
        lines = read_text(path).splitlines()
        headings = [(i, h) for i, line in enumerate(lines) if (h := _heading(line))]
        if not headings:
            other = next((line.strip() for line in lines if ANY_HEADING_RE.match(line)), None)
            found = f"; found {other!r} (no rate column: not a STREAM layout that can be read)" if other else ""
            raise ParseError(path, None, "a STREAM results heading: 'Function  Best Rate MB/s ...' (5.10), "
                                         f"'Function  Rate (MB/s) ...' (5.8/5.9, stream.f) or "
                                         f"'Function  Rate (GB/s) ...' (HPC Challenge){found}")
        per_run, spans = [], []
        start = 0
        for k, (heading, (variant, factor)) in enumerate(headings):
            run_end = headings[k + 1][0] if k + 1 < len(headings) else len(lines)
            try:
                records, verdict_idx = _run_records(path, lines, start, heading, variant, factor, run_end)
            except ParseError as exc:
                if len(headings) == 1:
                    raise
                raise ParseError(path, exc.line, f"{exc.expected} (run {k + 1} of {len(headings)} in this file, "
                                                 f"lines {start + 1}-{run_end})") from None
            per_run.append(records)
            spans.append((start + 1, verdict_idx + 1))
            start = verdict_idx + 1
        return tag_runs(per_run, spans)


PARSER = StreamParser()
